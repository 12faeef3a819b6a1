/**
 * Worker body of the encode pool: encodes one chunk per message with the native Zstandard encoder
 * and hands the stored bytes back by transfer, with both checksums, so the packing thread only
 * reads, hashes and writes.
 * @module
 */
import { encodeScratch } from "../../codec/chunk_encode.ts";
import { nativeZstdCompress } from "../codec_native/zstd.ts";
import { encodeChecked, type EncodeReply, type EncodeRequest } from "./encode_pool.ts";
import { inWorker, serveRequests } from "../threads/worker_pool.ts";

// This thread's encoder buffers, reused from chunk to chunk.
const scratch = encodeScratch();

/** Encodes one request on this thread; the message handler's body. */
export function encodeRequest(req: EncodeRequest): EncodeReply {
  const chunk = encodeChecked(req.raw, req.layout, {
    mode: req.mode,
    zstdCompress: nativeZstdCompress,
    scratch,
    ...req.hints,
  });
  return { id: req.id, ...chunk };
}

if (inWorker()) {
  serveRequests<EncodeRequest, EncodeReply>((req) => {
    const reply = encodeRequest(req);
    return { reply, transfer: [reply.stored.buffer as ArrayBuffer] };
  });
}
