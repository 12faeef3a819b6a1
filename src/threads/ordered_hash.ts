/**
 * One SHA-256 over a decode pool's block outputs in plan order, fed by the workers that decode
 * them: each worker waits for its block's turn, hashes its output while it is still in the core's
 * cache, and passes the turn on. The hash state and the turn live in shared memory, so no output
 * crosses to another thread. A whole-file unpack hashed every block on the calling thread (a
 * native thread beside it) from shared buffers before; the shared output buffers alone were about
 * 10 MiB of fresh memory, which faults in at about 6 ms per MiB here. Needs the native library's
 * SHA-256, whose state the caller owns; Deno only.
 * @module
 */
import { loadNativeLibrary, SHA256_STATE_BYTES } from "../codec_native/kernel.ts";

/** The shared memory of an ordered hash: the SHA-256 state, then the turn and the failed turn. */
export interface OrderedHash {
  /** State bytes `[0, SHA256_STATE_BYTES)`, then two Int32 words: next turn, lowest failed turn. */
  readonly shared: SharedArrayBuffer;
}

const TURN = 0, FAILED = 1;
/** The failed turn while none has failed. */
const NONE = 0x7fffffff;
/** How long a worker sleeps between checks of a turn that does not come. */
const WAIT_MS = 1000;

function words(h: OrderedHash): Int32Array {
  return new Int32Array(h.shared, SHA256_STATE_BYTES, 2);
}

function state(h: OrderedHash): Uint8Array {
  return new Uint8Array(h.shared, 0, SHA256_STATE_BYTES);
}

/**
 * A fresh ordered hash at turn 0, or undefined without the native library.
 *
 * @example
 * ```ts ignore
 * const hash = orderedHash();
 * // workers: hashInTurn(hash, turn, bytes) for turns 0, 1, 2, … in any order of arrival
 * console.log(orderedHex(hash!));
 * ```
 */
export function orderedHash(): OrderedHash | undefined {
  const lib = loadNativeLibrary();
  if (!lib) return undefined;
  const h: OrderedHash = { shared: new SharedArrayBuffer(SHA256_STATE_BYTES + 8) };
  Atomics.store(words(h), FAILED, NONE);
  lib.sha256In(state(h), true);
  return h;
}

/**
 * Waits until it is turn `turn` of `h` (every earlier turn has hashed), feeds `bytes`, and passes
 * the turn on. Throws if an earlier turn failed ({@link failOrderedHash}), since its turn will not
 * come, or without the native library; a later turn's failure does not stop it, so the caller,
 * who awaits blocks in order, meets the first failure's own error. Blocks the thread: call it in
 * a worker.
 */
export function hashInTurn(h: OrderedHash, turn: number, bytes: Uint8Array): void {
  const lib = loadNativeLibrary();
  if (!lib) throw new Error("ordered hash: the native library is not loaded");
  const w = words(h);
  for (;;) {
    const failed = Atomics.load(w, FAILED);
    if (failed < turn) {
      throw new Error(`ordered hash: block ${turn} not hashed, since block ${failed} failed`);
    }
    const now = Atomics.load(w, TURN);
    if (now === turn) break;
    if (now > turn) throw new RangeError(`ordered hash: turn ${turn} came twice`);
    Atomics.wait(w, TURN, now, WAIT_MS);
  }
  lib.sha256In(state(h), false).update(bytes);
  Atomics.store(w, TURN, turn + 1);
  Atomics.notify(w, TURN);
}

/** Whether it is turn `turn` of `h` now, so that hashing would not wait. */
export function isTurn(h: OrderedHash, turn: number): boolean {
  return Atomics.load(words(h), TURN) === turn;
}

/** Marks turn `turn` of `h` failed: workers waiting for a later turn stop waiting and throw. */
export function failOrderedHash(h: OrderedHash, turn: number): void {
  const w = words(h);
  // The lowest failed turn wins: that is the one whose own error the caller meets first.
  for (let now = Atomics.load(w, FAILED); turn < now;) {
    const was = Atomics.compareExchange(w, FAILED, now, turn);
    if (was === now) break;
    now = was;
  }
  Atomics.notify(w, TURN);
}

/** Turns hashed so far. */
export function turnsHashed(h: OrderedHash): number {
  return Atomics.load(words(h), TURN);
}

/** The digest of everything hashed, as lower-case hex; `h` is spent afterwards. */
export function orderedHex(h: OrderedHash): string {
  const lib = loadNativeLibrary();
  if (!lib) throw new Error("ordered hash: the native library is not loaded");
  return lib.sha256In(state(h), false).hex();
}
