/**
 * Worker body of the decode pool: produces one block per message with the native backends and
 * this thread's own scratch buffers, and hands the output back by transfer.
 * @module
 */
import { nativeBackends } from "../codec_native/backends.ts";
import { decodeBlock, decodeScratch } from "../container/decode_block.ts";
import { unpackBlock } from "./block_message.ts";
import { blockWriter, type DecodeReply, type DecodeRequest } from "./decode_pool.ts";
import { inWorker, serveRequests } from "./worker_pool.ts";

if (inWorker()) {
  const backends = nativeBackends(), scratch = decodeScratch(), writer = blockWriter();
  // Without libzstd the portable decoder is loaded first (a no-op otherwise).
  await backends.ready?.();
  serveRequests<DecodeRequest, DecodeReply>((req) => {
    const block = unpackBlock(req.block);
    const buffer = req.buffer && req.buffer.length >= block.bufferBytes
      ? req.buffer
      : new Uint8Array(block.bufferBytes);
    decodeBlock(block, req.runs, buffer, backends, scratch);
    if (req.writeTo) {
      writer.writeAt(req.writeTo.path, req.writeTo.offset, buffer.subarray(0, block.length));
    }
    return { reply: { id: req.id, buffer }, transfer: [buffer.buffer as ArrayBuffer] };
  });
}
