/**
 * Worker body of the decode pool: decodes and verifies one chunk per message (native kernels first)
 * with its own scratch buffers, and hands the raw bytes back by transfer.
 * @module
 */
import { scratchBytes } from "../../codec/chunk_decode.ts";
import { decodeChunkFast } from "../codec_native/decode_chunk.ts";
import type { DecodeReply, DecodeRequest } from "./decode_pool.ts";

let planes = new Uint8Array(0), words = new Uint16Array(0);
const slots = new Int32Array(4096);

/** Decodes one request on this thread; the message handler's body. */
export function decodeRequest(req: DecodeRequest): DecodeReply {
  const t0 = performance.now();
  try {
    const need = scratchBytes(req.entry.rawLength);
    if (planes.length < need) planes = new Uint8Array(need);
    if (words.length < req.entry.rawLength) words = new Uint16Array(req.entry.rawLength);
    const out = new Uint8Array(req.entry.rawLength);
    decodeChunkFast(req.stored, req.entry, req.layout, out, { scratch: planes, slots, words });
    return { id: req.id, raw: out, ms: performance.now() - t0 };
  } catch (e) {
    const err = e as Error & { kind?: string };
    return {
      id: req.id,
      error: { name: err.name, kind: err.kind ?? "corrupt", message: err.message },
      ms: performance.now() - t0,
    };
  }
}

// deno-lint-ignore no-explicit-any
const scope = globalThis as any;
if (typeof scope.WorkerGlobalScope !== "undefined" && scope instanceof scope.WorkerGlobalScope) {
  scope.onmessage = (e: MessageEvent<DecodeRequest>) => {
    const reply = decodeRequest(e.data);
    scope.postMessage(reply, "raw" in reply ? [reply.raw.buffer] : []);
  };
}
