/**
 * Summarises which codec each byte plane of a tensor uses, by reading only chunk plane tables.
 * @module
 */
import { CODEC_NAMES, PLANE_ENTRY_BYTES } from "../../codec/plane_codec.ts";
import { planeCount } from "../../codec/dtype.ts";
import { losslessOf, type TensorEntry } from "./index_schema.ts";
import type { Container } from "./open.ts";

/**
 * The most common codec of each plane, most significant plane first, joined by `+`
 * (for BF16, `rans+raw` means a rANS-coded exponent and a raw mantissa; a packed INT4 tensor has
 * one plane).
 */
export async function planeCodecSummary(c: Container, t: TensorEntry): Promise<string> {
  const l = losslessOf(t);
  const width = planeCount(l.layout);
  const counts: Map<string, number>[] = Array.from({ length: width }, () => new Map());
  for (const [offset, stored] of l.chunks) {
    const head = await c.source.readAt(offset, Math.min(stored, 1 + width * PLANE_ENTRY_BYTES));
    for (let p = 0; p < width; p++) {
      const name = CODEC_NAMES[head[1 + p * PLANE_ENTRY_BYTES]] ?? "?";
      counts[p].set(name, (counts[p].get(name) ?? 0) + 1);
    }
  }
  if (l.chunks.length === 0) return "-";
  return counts.reverse().map((m) => [...m].sort((a, b) => b[1] - a[1])[0][0]).join("+");
}
