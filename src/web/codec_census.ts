/**
 * Which plane codecs a container uses, and for how many bytes: read from the plane table at the
 * head of every lossless chunk (1 + 5 × width bytes each; docs/FORMAT.md, "Chunks"), never from
 * the payloads. Heads of chunks that lie close together are read in one span, so a container of
 * thousands of small tensors costs tens of reads rather than thousands.
 * @module
 */
import {
  CODEC_CONST,
  CODEC_HUFFMAN,
  CODEC_RANS,
  CODEC_RAW,
  CODEC_ZSTD,
  PLANE_ENTRY_BYTES,
} from "../../codec/plane_codec.ts";
import type { Lossless } from "../container/index_schema.ts";
import type { Container } from "../container/open.ts";

/** Names of the plane codec ids, as the pages show them. */
export const CODEC_NAMES: Readonly<Record<number, string>> = {
  [CODEC_RAW]: "raw",
  [CODEC_CONST]: "const",
  [CODEC_RANS]: "rans",
  [CODEC_ZSTD]: "zstd",
  [CODEC_HUFFMAN]: "huffman",
};

/** Bytes of one codec across a container. */
export interface CodecBytes {
  /** Plane instances (one per plane of each chunk). */
  planes: number;
  /** Decoded plane bytes. */
  raw: number;
  /** Payload bytes. */
  stored: number;
}

/** What a container's plane tables say. */
export interface CodecCensus {
  /** Per tensor name: the codec of most of each plane's bytes, most significant plane first. */
  readonly tensors: ReadonlyMap<string, string>;
  /** Per codec name. */
  readonly codecs: Readonly<Record<string, CodecBytes>>;
  /** Bytes of the plane tables themselves. */
  readonly tableBytes: number;
}

/** Merge chunk heads into one read when the gap between them is at most this. */
const GAP_BYTES = 64 << 10;
/** Longest merged read. */
const SPAN_BYTES = 1 << 20;
/** Reads in flight. */
const INFLIGHT = 8;

interface Head {
  readonly offset: number;
  readonly length: number;
  readonly rawLength: number;
  readonly tensor: number;
}

/**
 * Reads the plane tables of every lossless chunk of `c`.
 *
 * @example
 * ```ts ignore
 * const census = await codecCensus(lease.container);
 * census.tensors.get("model.embed_tokens.weight"); // "rans+raw"
 * ```
 */
export async function codecCensus(c: Container): Promise<CodecCensus> {
  const heads: Head[] = [];
  const widths: number[] = [];
  c.index.tensors.forEach((t, i) => {
    const l = t.encodings.find((e) => e.kind === "lossless") as Lossless | undefined;
    widths.push(l?.layout.width ?? 0);
    for (const [offset, stored, raw] of l?.chunks ?? []) {
      heads.push({
        offset,
        length: Math.min(stored, 1 + l!.layout.width * PLANE_ENTRY_BYTES),
        rawLength: raw,
        tensor: i,
      });
    }
  });
  heads.sort((a, b) => a.offset - b.offset);
  const spans: { start: number; end: number; heads: Head[] }[] = [];
  for (const h of heads) {
    const last = spans[spans.length - 1];
    const end = h.offset + h.length;
    if (last && h.offset - last.end <= GAP_BYTES && end - last.start <= SPAN_BYTES) {
      last.end = end;
      last.heads.push(h);
    } else spans.push({ start: h.offset, end, heads: [h] });
  }
  // Per tensor and plane: raw bytes by codec id.
  const perTensor = widths.map((w) => Array.from({ length: w }, () => new Map<number, number>()));
  const codecs: Record<string, CodecBytes> = {};
  let tableBytes = 0;
  const visit = (h: Head, bytes: Uint8Array) => {
    const width = widths[h.tensor];
    tableBytes += 1 + width * PLANE_ENTRY_BYTES;
    const planeRaw = h.rawLength / width;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let p = 0; p < width; p++) {
      const at = 1 + p * PLANE_ENTRY_BYTES;
      const id = bytes[at];
      const name = CODEC_NAMES[id] ?? `codec ${id}`;
      const entry = codecs[name] ??= { planes: 0, raw: 0, stored: 0 };
      entry.planes++;
      entry.raw += planeRaw;
      entry.stored += view.getUint32(at + 1, true);
      const m = perTensor[h.tensor][p];
      m.set(id, (m.get(id) ?? 0) + planeRaw);
    }
  };
  let next = 0;
  const worker = async () => {
    while (next < spans.length) {
      const s = spans[next++];
      const bytes = await c.source.readAt(s.start, s.end - s.start);
      for (const h of s.heads) {
        visit(h, bytes.subarray(h.offset - s.start, h.offset - s.start + h.length));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(INFLIGHT, spans.length) }, worker));
  const tensors = new Map<string, string>();
  c.index.tensors.forEach((t, i) => {
    const planes = perTensor[i];
    if (planes.length === 0 || planes[0].size === 0) {
      tensors.set(t.name, "-");
      return;
    }
    const names = planes.map((m) => {
      let best = -1, bestBytes = -1;
      for (const [id, n] of m) if (n > bestBytes) best = id, bestBytes = n;
      return CODEC_NAMES[best] ?? `codec ${best}`;
    });
    tensors.set(t.name, names.reverse().join("+"));
  });
  return { tensors, codecs, tableBytes };
}
