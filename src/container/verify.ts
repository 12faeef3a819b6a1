/**
 * Full verification of a container: every chunk's stored and decoded checksums, every tensor's
 * SHA-256, the original header and the whole file's SHA-256; then every variant: its chunks, the
 * SHA-256 of each tensor it stores lossy and of its file. A sound container is checked in one
 * pass of the assembler over the whole original file, and one over each variant's file; once a
 * chunk fails, the rest is checked chunk by chunk (tensor by tensor for a variant) so that every
 * problem is reported, not only the first. A variant-only container has no original file to
 * rebuild: its lossless tensors are checked one by one. Browser-safe.
 * @module
 */
import { copyTileRegion, gridSize, type Rect, tileRect } from "../../codec/tiles.ts";
import { assemble, type AssembleOptions } from "./assemble.ts";
import type { Hasher } from "./backends.ts";
import { ContainerError } from "./errors.ts";
import { geometryOf, losslessOf, type TensorEntry } from "./index_schema.ts";
import type { Container } from "./open.ts";
import { type Piece, planBlocks, rectPiece, tensorPiece, variantTensorPiece } from "./plan.ts";
import { lengthPrefix, readOriginalHeader, readRegion } from "./read.ts";
import { lossyEncodingOf, type VariantListEntry } from "./variant_index.ts";

/** One thing wrong with a container. */
export interface Problem {
  /** The tensor concerned, or null for the header and whole-file checks. */
  readonly tensor: string | null;
  /** The chunk concerned, if any. */
  readonly chunk: number | null;
  /** What is wrong. */
  readonly message: string;
}

/** Summary of a verification. */
export interface VerifyReport {
  /** Chunks checked. */
  readonly chunks: number;
  /** Tensors checked. */
  readonly tensors: number;
  /** Raw bytes decoded. */
  readonly bytes: number;
  /** Everything that failed; empty when the container is sound. */
  readonly problems: Problem[];
}

/** Options of {@link verifyContainer}. */
export interface VerifyOptions extends Pick<AssembleOptions, "executor" | "signal"> {
  /** Told the raw bytes of the original file checked so far, as they are checked. */
  readonly onBytes?: (rawBytes: number) => void;
}

/**
 * Verifies everything in `c`.
 *
 * @example
 * ```ts ignore
 * const report = await verifyContainer(c);
 * if (report.problems.length > 0) console.error(report.problems);
 * ```
 */
export async function verifyContainer(
  c: Container,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const problems: Problem[] = [];
  let header: Uint8Array | undefined;
  try {
    header = await readOriginalHeader(c);
  } catch (e) {
    if (!(e instanceof ContainerError)) throw e;
    problems.push({ tensor: null, chunk: null, message: e.message });
  }
  const tensors = c.index.tensors;
  const hasLossless = (t: TensorEntry) => t.encodings.some((e) => e.kind === "lossless");
  const lossless = tensors.filter(hasLossless);
  let chunks = 0, bytes = 0;
  for (const t of lossless) chunks += losslessOf(t).chunks.length;
  // The original: its file's digest only when every tensor has its original bytes.
  const original = await checkBody(
    c,
    lossless.map((t) => ({ t, piece: tensorPiece(t), sha256: t.sha256 })),
    lossless.length === tensors.length ? header : undefined,
    c.index.source.sha256,
    problems,
    options,
  );
  bytes += original.bytes;
  if (original.failedAt >= 0) {
    // The slow pass: the tensors not yet checked, chunk by chunk, collecting every failure.
    for (const t of lossless.slice(original.failedAt)) {
      bytes += await verifyTensorByChunk(c, t, problems, options);
    }
  }
  for (const v of c.index.variants ?? []) {
    const r = await verifyVariant(c, v, header, problems, options);
    chunks += r.chunks, bytes += r.bytes;
  }
  return { chunks, tensors: tensors.length, bytes, problems };
}

/** One tensor of a body being checked: its piece and the SHA-256 its bytes must have. */
interface Checked {
  readonly t: TensorEntry;
  readonly piece: Piece;
  readonly sha256: string;
}

/**
 * Streams the tensors of `entries` (each checked against its digest) on one pass of the
 * assembler, verifying stored checksums too; with `header`, the file they make with it is checked
 * against `fileSha256`. Returns the bytes checked and, after a chunk failure, the index of the
 * first entry not checked (-1 when all were).
 */
async function checkBody(
  c: Container,
  entries: readonly Checked[],
  header: Uint8Array | undefined,
  fileSha256: string,
  problems: Problem[],
  options: VerifyOptions,
): Promise<{ bytes: number; failedAt: number }> {
  const fileHash: Hasher | null = header ? c.backends.sha256() : null;
  if (header && fileHash) {
    fileHash.update(lengthPrefix(header.length));
    fileHash.update(header);
  }
  let bytes = 0, next = 0, hash = c.backends.sha256(), left = tensorBytes(entries[0]?.t);
  const finish = () => {
    checkTensor(entries[next].t, hash.hex(), entries[next].sha256, problems);
    next++;
    hash = c.backends.sha256();
    left = tensorBytes(entries[next]?.t);
  };
  try {
    const blocks = planBlocks(entries.map((e) => e.piece), { verifyStored: true });
    while (next < entries.length && left === 0) finish();
    for await (const part of assemble(c, blocks, { ...options, recycle: true })) {
      fileHash?.update(part);
      for (let at = 0; at < part.length;) {
        const n = Math.min(left, part.length - at);
        hash.update(part.subarray(at, at + n));
        at += n, left -= n;
        while (next < entries.length && left === 0) finish();
      }
      bytes += part.length;
      options.onBytes?.(part.length);
    }
  } catch (e) {
    if (!(e instanceof ContainerError) || e.kind !== "chunk_corrupt") throw e;
    return { bytes, failedAt: next };
  }
  if (fileHash && problems.length === 0) {
    const digest = fileHash.hex();
    if (digest !== fileSha256) {
      problems.push({
        tensor: null,
        chunk: null,
        message: `file SHA-256 ${digest}, index says ${fileSha256}`,
      });
    }
  }
  return { bytes, failedAt: -1 };
}

/**
 * Checks variant `v`: its file in one pass (each tensor against the digest of its bytes under
 * the variant), or after a chunk failure the rest tensor by tensor. Returns the variant's chunks
 * and the bytes checked.
 */
async function verifyVariant(
  c: Container,
  v: VariantListEntry,
  header: Uint8Array | undefined,
  problems: Problem[],
  options: VerifyOptions,
): Promise<{ chunks: number; bytes: number }> {
  let chunks = 0;
  const entries: Checked[] = c.index.tensors.map((t) => {
    const e = lossyEncodingOf(t, v.name);
    if (e) chunks += e.chunks.length;
    return { t, piece: variantTensorPiece(t, e), sha256: e ? e.sha256 : t.sha256 };
  });
  const label = (m: string) => `variant ${v.name}: ${m}`;
  const mine: Problem[] = [];
  const r = await checkBody(c, entries, header, v.sha256, mine, options);
  let bytes = r.bytes;
  if (r.failedAt >= 0) {
    for (const { t } of entries.slice(r.failedAt)) {
      const e = lossyEncodingOf(t, v.name);
      try {
        await readRegion(c, t, undefined, {
          variant: e,
          verifyStored: true,
          executor: options.executor,
        });
      } catch (err) {
        if (!(err instanceof ContainerError)) throw err;
        mine.push({ tensor: t.name, chunk: null, message: err.message });
      }
      bytes += t.offsets[1] - t.offsets[0];
      options.onBytes?.(t.offsets[1] - t.offsets[0]);
    }
  }
  for (const p of mine) problems.push({ ...p, message: label(p.message) });
  return { chunks, bytes };
}

function tensorBytes(t: TensorEntry | undefined): number {
  return t ? t.offsets[1] - t.offsets[0] : -1;
}

function checkTensor(t: TensorEntry, digest: string, want: string, problems: Problem[]): void {
  if (digest !== want) {
    problems.push({
      tensor: t.name,
      chunk: null,
      message: `SHA-256 ${digest}, index says ${want}`,
    });
  }
}

/** Checks `t` one chunk at a time, band by band; returns the raw bytes checked. */
async function verifyTensorByChunk(
  c: Container,
  t: TensorEntry,
  problems: Problem[],
  options: VerifyOptions,
): Promise<number> {
  const g = geometryOf(t), chunks = losslessOf(t).chunks;
  const [gridRows, gridCols] = gridSize(g);
  const hash = c.backends.sha256();
  let ok = true, bytes = 0;
  for (let tr = 0; tr < gridRows; tr++) {
    const band: Rect = {
      r0: tr * g.tileRows,
      r1: Math.min(g.rows, (tr + 1) * g.tileRows),
      c0: 0,
      c1: g.cols,
    };
    const out = new Uint8Array((band.r1 - band.r0) * g.cols * g.width);
    for (let i = tr * gridCols; i < (tr + 1) * gridCols; i++) {
      const rect = tileRect(g, i);
      const blocks = planBlocks([rectPiece(t, rect)], { verifyStored: true, blockBytes: Infinity });
      try {
        for await (const tile of assemble(c, blocks, options)) {
          copyTileRegion(g, i, tile, band, out);
        }
      } catch (e) {
        if (!(e instanceof ContainerError)) throw e;
        problems.push({ tensor: t.name, chunk: i, message: e.message });
        ok = false;
      }
      bytes += chunks[i][2];
      options.onBytes?.(chunks[i][2]);
    }
    if (ok) hash.update(out);
  }
  if (ok) checkTensor(t, hash.hex(), t.sha256, problems);
  return bytes;
}
