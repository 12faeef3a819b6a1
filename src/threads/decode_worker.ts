/**
 * Worker body of the decode pool: produces one block per message with the native backends and
 * this thread's own scratch buffers, and hands the output back by transfer.
 * @module
 */
import { nativeBackends } from "../codec_native/backends.ts";
import { decodeBlock, decodeScratch } from "../container/decode_block.ts";
import type { DecodeReply, DecodeRequest } from "./decode_pool.ts";
import { inWorker, serveRequests } from "./worker_pool.ts";

if (inWorker()) {
  const backends = nativeBackends(), scratch = decodeScratch();
  // Without libzstd the portable decoder is loaded first (a no-op otherwise).
  await backends.ready?.();
  serveRequests<DecodeRequest, DecodeReply>((req) => {
    const buffer = req.buffer && req.buffer.length >= req.block.bufferBytes
      ? req.buffer
      : new Uint8Array(req.block.bufferBytes);
    decodeBlock(req.block, req.runs, buffer, backends, scratch);
    return { reply: { id: req.id, buffer }, transfer: [buffer.buffer as ArrayBuffer] };
  });
}
