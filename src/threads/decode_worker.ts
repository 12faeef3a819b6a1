/**
 * Worker body of the decode pool: produces one block per message with the native backends and
 * this thread's own scratch buffers, reading its stored bytes from the container file itself when
 * asked to, writing it into the output file when asked to, and feeding it to the pool's ordered
 * SHA-256 when there is one (the output then stays here, in a buffer this thread reuses); else it
 * hands the output back, by transfer or in shared memory.
 * @module
 */
import { nativeBackends } from "../codec_native/backends.ts";
import { decodeBlock, decodeScratch } from "../container/decode_block.ts";
import { unpackBlock } from "./block_message.ts";
import { blockReader, blockWriter } from "./block_io.ts";
import type { DecodeReply, DecodeRequest } from "./decode_pool.ts";
import { failOrderedHash, hashInTurn, isTurn } from "./ordered_hash.ts";
import { inWorker, serveRequests } from "./worker_pool.ts";

/**
 * The smallest buffer this thread keeps for outputs it hashes or copies out: a block and its tile
 * scratch.
 */
const OWN_BYTES = 2 << 20;

if (inWorker()) {
  const backends = nativeBackends(), scratch = decodeScratch();
  const writer = blockWriter(), reader = blockReader();
  let own = new Uint8Array(0);
  // Without libzstd the portable decoder is loaded first (a no-op otherwise).
  await backends.ready?.();
  serveRequests<DecodeRequest, DecodeReply>((req) => {
    const block = unpackBlock(req.block);
    const hash = req.hash ? { shared: req.hash.shared } : undefined;
    try {
      // The output goes into this thread's own buffer when it stays here (hashed), and when only
      // its bytes are to go back (exact) while the block needs room for tiles beyond them.
      let buffer: Uint8Array;
      const given = req.buffer && req.buffer.length >= block.bufferBytes ? req.buffer : undefined;
      const copy = !hash && !given && req.exact === true && block.bufferBytes > block.length;
      if (hash || copy) {
        if (own.length < block.bufferBytes) {
          own = new Uint8Array(Math.max(OWN_BYTES, block.bufferBytes));
        }
        buffer = own;
      } else buffer = given ?? new Uint8Array(block.bufferBytes);
      const runs = req.runs ?? reader.read(req.readFrom!, block);
      decodeBlock(block, runs, buffer, backends, scratch);
      const out = buffer.subarray(0, block.length);
      const write = () => req.writeTo && writer.writeAt(req.writeTo.path, req.writeTo.offset, out);
      if (hash) {
        // Hashing waits for the earlier blocks' turns; writing first fills that wait, unless the
        // turn is already here.
        const turn = req.hash!.turn;
        if (isTurn(hash, turn)) {
          hashInTurn(hash, turn, out);
          write();
        } else {
          write();
          hashInTurn(hash, turn, out);
        }
        return { reply: { id: req.id, buffer: new Uint8Array(0) }, transfer: [] };
      }
      write();
      const sent = copy ? out.slice() : buffer;
      const shared = sent.buffer instanceof SharedArrayBuffer;
      return {
        reply: { id: req.id, buffer: sent },
        transfer: shared ? [] : [sent.buffer as ArrayBuffer],
      };
    } catch (e) {
      // The blocks after this one wait for its turn: they must learn that it will not come.
      if (hash) failOrderedHash(hash, req.hash!.turn);
      throw e;
    }
  });
}
