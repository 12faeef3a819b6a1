/**
 * Keeps freed block buffers in the C heap for the next block. Every decoded block is a fresh
 * `Uint8Array` of about 1 MiB (a server cannot reuse one: the HTTP layer holds it until the socket
 * took it, and says nothing when that is), and V8 takes its memory from glibc's `calloc`. glibc's
 * defaults give memory above 128 KiB back to the system as soon as the heap's top has a few MiB
 * free, so each new block faulted its pages in again and cleared them: on a cold GET of the 338 MB
 * many-tensor model the server took 4,000-9,000 page faults and 0.82-1.00 s of CPU; with the
 * heap kept, 300-2,400 faults and 0.72-0.77 s (4 pairs, same run, load 8), for about 40 MB more
 * resident memory. A process may call {@link keepBlockBuffersInHeap} once before it decodes;
 * anything but Linux with glibc, or a process without the FFI permission, is left as it is.
 * @module
 */

/** `mallopt` parameters, from glibc's `malloc.h`. */
const M_TRIM_THRESHOLD = -1, M_TOP_PAD = -2, M_MMAP_THRESHOLD = -3;

/** Blocks up to this size come from the heap rather than from a mapping of their own. */
export const HEAP_BLOCK_MAX = 32 << 20;
/** Free memory at the heap's top that is kept rather than given back. */
export const HEAP_KEEP_BYTES = 256 << 20;
/** Extra memory taken whenever the heap grows, so that growth is rare. */
export const HEAP_PAD_BYTES = 64 << 20;

let tuned: boolean | undefined;

/**
 * Sets glibc's allocator to keep block-sized buffers in its heap (see the module doc). Idempotent;
 * returns whether the settings took effect. Never prompts: without a granted FFI permission it
 * does nothing.
 *
 * @example
 * ```ts ignore
 * keepBlockBuffersInHeap(); // once, before a server or an unpack starts decoding
 * ```
 */
export function keepBlockBuffersInHeap(): boolean {
  if (tuned !== undefined) return tuned;
  tuned = false;
  if (Deno.build.os !== "linux") return tuned;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return tuned;
  let lib;
  try {
    lib = Deno.dlopen("libc.so.6", {
      mallopt: { parameters: ["i32", "i32"], result: "i32" },
    });
  } catch {
    return tuned; // not glibc (musl has no libc.so.6 and no such tuning)
  }
  try {
    const set = lib.symbols.mallopt;
    // Setting the mapping threshold turns off glibc's own adjustment of it and of the trim
    // threshold, so all three are set together.
    tuned = set(M_MMAP_THRESHOLD, HEAP_BLOCK_MAX) === 1 &&
      set(M_TRIM_THRESHOLD, HEAP_KEEP_BYTES) === 1 &&
      set(M_TOP_PAD, HEAP_PAD_BYTES) === 1;
  } finally {
    lib.close();
  }
  return tuned;
}
