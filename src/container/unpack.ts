/**
 * Rebuilds the original safetensors file from a container, atomically, checking its SHA-256
 * before the file appears.
 * @module
 */
import { sha256 } from "../hash/sha256.ts";
import { createAtomicFile } from "../io/atomic_file.ts";
import { ContainerError } from "./errors.ts";
import type { Container } from "./read.ts";
import { decodeOriginal, type DecodeOriginalOptions } from "./decode_original.ts";

/** Writes the original file of `c` to `output`; `onBytes` is told each block's size. */
export async function unpackTo(
  c: Container,
  output: string,
  onBytes?: (n: number) => void,
  options: DecodeOriginalOptions = {},
): Promise<void> {
  const out = await createAtomicFile(output);
  try {
    const hash = sha256();
    let pos = 0;
    // Blocks reuse one buffer: each is hashed and written before the next is decoded.
    await decodeOriginal(c, async (part) => {
      hash.update(part);
      await out.writeAt(pos, part);
      pos += part.length;
      onBytes?.(part.length);
    }, options);
    const digest = hash.hex();
    if (pos !== c.index.source.size || digest !== c.index.source.sha256) {
      throw new ContainerError(
        "digest_mismatch",
        `rebuilt file is ${pos} bytes with SHA-256 ${digest}; expected ${c.index.source.size} bytes, ${c.index.source.sha256}`,
      );
    }
    await out.commit();
  } catch (e) {
    await out.abort();
    throw e;
  }
}
