/**
 * Full verification of a container: every chunk's stored and decoded checksums, every tensor's
 * SHA-256, the original header and the whole file's SHA-256. A sound container is checked in one
 * pass of the assembler over the whole original file; once a chunk fails, the rest is checked
 * chunk by chunk so that every problem is reported, not only the first. Browser-safe.
 * @module
 */
import { copyTileRegion, gridSize, type Rect, tileRect } from "../../codec/tiles.ts";
import { assemble, type AssembleOptions } from "./assemble.ts";
import type { Hasher } from "./backends.ts";
import { ContainerError } from "./errors.ts";
import { geometryOf, losslessOf, type TensorEntry } from "./index_schema.ts";
import type { Container } from "./open.ts";
import { planBlocks, rectPiece, tensorPiece } from "./plan.ts";
import { lengthPrefix, readOriginalHeader } from "./read.ts";

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
  const fileHash: Hasher = c.backends.sha256();
  let header: Uint8Array | undefined;
  try {
    header = await readOriginalHeader(c);
    fileHash.update(lengthPrefix(header.length));
    fileHash.update(header);
  } catch (e) {
    if (!(e instanceof ContainerError)) throw e;
    problems.push({ tensor: null, chunk: null, message: e.message });
  }
  const tensors = c.index.tensors;
  let chunks = 0, bytes = 0, next = 0, fileValid = header !== undefined;
  for (const t of tensors) chunks += losslessOf(t).chunks.length;
  // The fast pass: tensors in order, each hashed as its blocks arrive.
  try {
    let hash = c.backends.sha256(), left = tensorBytes(tensors[0]);
    const blocks = planBlocks(tensors.map(tensorPiece), { verifyStored: true });
    const finish = () => {
      checkTensor(tensors[next], hash.hex(), problems);
      next++;
      hash = c.backends.sha256();
      left = tensorBytes(tensors[next]);
    };
    while (next < tensors.length && left === 0) finish();
    for await (const part of assemble(c, blocks, { ...options, recycle: true })) {
      fileHash.update(part);
      for (let at = 0; at < part.length;) {
        const n = Math.min(left, part.length - at);
        hash.update(part.subarray(at, at + n));
        at += n, left -= n;
        while (next < tensors.length && left === 0) finish();
      }
      bytes += part.length;
      options.onBytes?.(part.length);
    }
  } catch (e) {
    if (!(e instanceof ContainerError) || e.kind !== "chunk_corrupt") throw e;
    fileValid = false;
    // The slow pass: the tensors not yet checked, chunk by chunk, collecting every failure.
    for (const t of tensors.slice(next)) {
      bytes += await verifyTensorByChunk(c, t, problems, options);
    }
  }
  if (fileValid && problems.length === 0) {
    const digest = fileHash.hex();
    if (digest !== c.index.source.sha256) {
      problems.push({
        tensor: null,
        chunk: null,
        message: `file SHA-256 ${digest}, index says ${c.index.source.sha256}`,
      });
    }
  }
  return { chunks, tensors: tensors.length, bytes, problems };
}

function tensorBytes(t: TensorEntry | undefined): number {
  return t ? t.offsets[1] - t.offsets[0] : -1;
}

function checkTensor(t: TensorEntry, digest: string, problems: Problem[]): void {
  if (digest !== t.sha256) {
    problems.push({
      tensor: t.name,
      chunk: null,
      message: `SHA-256 ${digest}, index says ${t.sha256}`,
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
  if (ok) checkTensor(t, hash.hex(), problems);
  return bytes;
}
