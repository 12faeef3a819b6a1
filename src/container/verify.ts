/**
 * Full verification of a container: every chunk's checksums, every tensor's SHA-256, the original
 * header (its SHA-256, and that it lists the index's tensors), and the whole file's SHA-256,
 * reporting every problem rather than stopping at the first.
 * @module
 */
import { copyTileRegion, gridSize, type Rect, tilesCovering } from "../../codec/tiles.ts";
import { sha256 } from "../hash/sha256.ts";
import { ContainerError } from "./errors.ts";
import { checkHeaderAgreement } from "./header_agreement.ts";
import { geometryOf, losslessOf } from "./index_schema.ts";
import { type Container, readChunk, type ReadOptions, readOriginalHeader } from "./read.ts";

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

/** Verifies everything in `c`; `onChunk` is told the raw bytes of each chunk checked. */
export async function verifyContainer(
  c: Container,
  onChunk?: (rawBytes: number) => void,
  options: ReadOptions = {},
): Promise<VerifyReport> {
  const problems: Problem[] = [];
  const fileHash = sha256();
  let fileHashValid = true, chunks = 0, bytes = 0;
  try {
    const header = await readOriginalHeader(c);
    const prefix = new Uint8Array(8);
    new DataView(prefix.buffer).setBigUint64(0, BigInt(header.length), true);
    fileHash.update(prefix);
    fileHash.update(header);
    try {
      checkHeaderAgreement(c.index, header);
    } catch (e) {
      if (!(e instanceof ContainerError)) throw e;
      // The tensors may still decode to the file's SHA-256: keep checking, report both.
      problems.push({ tensor: null, chunk: null, message: e.message });
    }
  } catch (e) {
    problems.push({ tensor: null, chunk: null, message: (e as Error).message });
    fileHashValid = false;
  }
  for (const t of c.index.tensors) {
    const g = geometryOf(t);
    const [gridRows] = gridSize(g);
    const tensorHash = sha256();
    let tensorValid = true;
    for (let tr = 0; tr < gridRows; tr++) {
      const band: Rect = {
        r0: tr * g.tileRows,
        r1: Math.min(g.rows, (tr + 1) * g.tileRows),
        c0: 0,
        c1: g.cols,
      };
      const out = new Uint8Array((band.r1 - band.r0) * g.cols * g.width);
      for (const i of tilesCovering(g, band)) {
        chunks++;
        try {
          const tile = await readChunk(c, t, i, {
            ...options,
            decode: { ...options.decode, verifyStored: true },
          });
          copyTileRegion(g, i, tile, band, out);
          bytes += tile.length;
          onChunk?.(tile.length);
        } catch (e) {
          if (!(e instanceof ContainerError)) throw e;
          problems.push({ tensor: t.name, chunk: i, message: e.message });
          tensorValid = false;
          onChunk?.(losslessOf(t).chunks[i][2]);
        }
      }
      if (tensorValid) {
        tensorHash.update(out);
        if (fileHashValid) fileHash.update(out);
      }
    }
    if (!tensorValid) {
      fileHashValid = false;
      continue;
    }
    const digest = tensorHash.hex();
    if (digest !== t.sha256) {
      problems.push({
        tensor: t.name,
        chunk: null,
        message: `SHA-256 ${digest}, index says ${t.sha256}`,
      });
      fileHashValid = false;
    }
  }
  if (fileHashValid) {
    const digest = fileHash.hex();
    if (digest !== c.index.source.sha256) {
      problems.push({
        tensor: null,
        chunk: null,
        message: `file SHA-256 ${digest}, index says ${c.index.source.sha256}`,
      });
    }
  }
  return { chunks, tensors: c.index.tensors.length, bytes, problems };
}
