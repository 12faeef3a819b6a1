/**
 * Worker body of the encode pool: encodes one chunk per message with the native Zstandard encoder
 * and hands the stored bytes back by transfer, with both checksums, so the packing thread only
 * reads, hashes and writes.
 * @module
 */
import { encodeScratch } from "../../codec/chunk_encode.ts";
import { nativeZstdCompress } from "../codec_native/zstd.ts";
import { encodeChecked, type EncodeReply, type EncodeRequest } from "./encode_pool.ts";

// This thread's encoder buffers, reused from chunk to chunk.
const scratch = encodeScratch();

/** Encodes one request on this thread; the message handler's body. */
export function encodeRequest(req: EncodeRequest): EncodeReply {
  try {
    const chunk = encodeChecked(req.raw, req.layout, {
      mode: req.mode,
      zstdCompress: nativeZstdCompress,
      scratch,
      ...req.hints,
    });
    return { id: req.id, ...chunk };
  } catch (e) {
    return { id: req.id, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
}

// deno-lint-ignore no-explicit-any
const scope = globalThis as any;
if (typeof scope.WorkerGlobalScope !== "undefined" && scope instanceof scope.WorkerGlobalScope) {
  scope.onmessage = (e: MessageEvent<EncodeRequest>) => {
    const reply = encodeRequest(e.data);
    scope.postMessage(reply, "stored" in reply ? [reply.stored.buffer] : []);
  };
}
