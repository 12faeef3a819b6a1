/**
 * A {@link RandomAccessReader} over a file that serves concurrent reads without a queue: each read
 * is one positional read (`node:fs` `read` with a position), which never moves a shared cursor.
 * The file's identity (inode, size, mtime) is taken from the open descriptor, so a reader keeps
 * reading the file it opened even after another file is renamed over its path.
 * @module
 */
import fs from "node:fs";
import type { RandomAccessReader } from "./random_access.ts";

/** A positional reader and the identity of the file behind it. */
export interface PositionalReader extends RandomAccessReader {
  /** Inode number of the open file. */
  readonly ino: number;
  /** Last modification time of the open file, in milliseconds. */
  readonly mtimeMs: number;
  /** The path the file was opened at. */
  readonly path: string;
}

function readInto(fd: number, buf: Uint8Array, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, buf, 0, buf.length, position, (err, n) => err ? reject(err) : resolve(n));
  });
}

/**
 * Opens `path` for concurrent positional reads.
 *
 * @example
 * ```ts
 * const r = await openPositionalReader("models/demo/stories260k/main/model.tsr");
 * const head = await r.readAt(0, 64);
 * r.close();
 * ```
 */
export async function openPositionalReader(path: string): Promise<PositionalReader> {
  const fd = await new Promise<number>((resolve, reject) =>
    fs.open(path, "r", (err, fd) => err ? reject(err) : resolve(fd))
  );
  let st: fs.Stats;
  try {
    st = await new Promise<fs.Stats>((resolve, reject) =>
      fs.fstat(fd, (err, s) => err ? reject(err) : resolve(s))
    );
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  const size = st.size;
  let closed = false;
  return {
    size,
    ino: st.ino,
    mtimeMs: st.mtimeMs,
    path,
    async readAt(offset, length) {
      const out = new Uint8Array(length);
      await fill(offset, out);
      return out;
    },
    readInto: (offset, target) => fill(offset, target),
    close() {
      if (closed) return;
      closed = true;
      fs.closeSync(fd);
    },
  };

  async function fill(offset: number, out: Uint8Array): Promise<void> {
    const length = out.length;
    if (closed) throw new Error(`${path}: reader is closed`);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > size || length > size - offset) {
      throw new RangeError(
        `${path}: read of ${length} bytes at offset ${offset} exceeds size ${size}`,
      );
    }
    let filled = 0;
    while (filled < length) {
      const n = await readInto(fd, out.subarray(filled), offset + filled);
      if (n === 0) {
        throw new Error(
          `${path}: file ended early: expected ${length} bytes at offset ${offset}, got ${filled}`,
        );
      }
      filled += n;
    }
  }
}
