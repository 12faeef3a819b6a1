/**
 * A representation made of others laid end to end: a layer whose tensors span several shards is
 * its safetensors header followed by each tensor, each read from its own container. A range read
 * reads only the parts it overlaps.
 * @module
 */
import type { Representation } from "../http/representation.ts";

/**
 * The concatenation of `parts`, which it owns (released together).
 *
 * @example
 * ```ts
 * const rep = concatRepresentation([headerRep, ...tensorReps], {
 *   contentType: "application/octet-stream", etag: '"…"',
 * });
 * ```
 */
export function concatRepresentation(
  parts: readonly Representation[],
  fields: Pick<Representation, "contentType" | "etag" | "headers">,
): Representation {
  const starts: number[] = [];
  let size = 0;
  for (const p of parts) {
    starts.push(size);
    size += p.size;
  }
  return {
    ...fields,
    size,
    async *read(start, end, signal) {
      for (let i = 0; i < parts.length && !signal.aborted; i++) {
        const from = Math.max(start, starts[i]), to = Math.min(end, starts[i] + parts[i].size);
        if (from >= to) continue;
        yield* parts[i].read(from - starts[i], to - starts[i], signal);
      }
    },
    release() {
      for (const p of parts) p.release?.();
    },
  };
}
