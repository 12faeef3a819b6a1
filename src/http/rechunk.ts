/**
 * Regroups a stream of byte chunks so that small ones travel together: each write to a socket
 * has a fixed cost, and a model file is thousands of small tensors between a few large ones.
 * @module
 */

/** Chunks at least this long pass through untouched (after whatever was gathered before them). */
export const PASS_THROUGH_BYTES = 64 * 1024;
/** Gathered small chunks are flushed once they reach this length. */
export const GATHER_BYTES = 256 * 1024;

/**
 * Yields the bytes of `source` unchanged in order, gathering chunks shorter than
 * {@link PASS_THROUGH_BYTES} into buffers of up to {@link GATHER_BYTES}. When `source` fails, the
 * bytes gathered so far are yielded before the error is passed on.
 *
 * @example
 * ```ts
 * async function* tiny() { for (let i = 0; i < 4; i++) yield new Uint8Array([i]); }
 * for await (const c of rechunk(tiny())) console.log(c); // Uint8Array [0, 1, 2, 3]
 * ```
 */
export async function* rechunk(
  source: AsyncIterable<Uint8Array>,
  gather = GATHER_BYTES,
  passThrough = PASS_THROUGH_BYTES,
): AsyncGenerator<Uint8Array> {
  let buf: Uint8Array | null = null, fill = 0;
  try {
    yield* gathered();
  } catch (e) {
    // A failing source still gets every byte it produced through: a body stops at the last one.
    if (fill > 0) yield buf!.subarray(0, fill);
    throw e;
  }
  if (fill > 0) yield buf!.subarray(0, fill);

  async function* gathered(): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      if (chunk.length >= passThrough) {
        if (fill > 0) yield buf!.subarray(0, fill);
        buf = null;
        fill = 0;
        yield chunk;
        continue;
      }
      let at = 0;
      while (at < chunk.length) {
        buf ??= new Uint8Array(gather);
        const n = Math.min(gather - fill, chunk.length - at);
        buf.set(chunk.subarray(at, at + n), fill);
        fill += n;
        at += n;
        if (fill === gather) {
          const full = buf;
          buf = null;
          fill = 0;
          yield full;
        }
      }
    }
  }
}
