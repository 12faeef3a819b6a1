/**
 * Positional reads over a file or an in-memory buffer, so parsers can fetch exactly the byte
 * ranges they need without streaming a whole file. These are the container reader's byte sources
 * for local files.
 * @module
 */
import { type ByteSource, checkRange } from "../container/source.ts";

/** Positional reads over a file or buffer: a {@link ByteSource}. */
export type RandomAccessReader = ByteSource;

/**
 * Opens `path` for positional reads; reads are serialized because seek+read is not atomic. It uses
 * no `node:` module, so a command that reads one file does not pay for Node compatibility.
 */
export async function openFileReader(path: string): Promise<RandomAccessReader> {
  const file = await Deno.open(path, { read: true });
  let size: number, ino: number | null;
  try {
    const st = await file.stat();
    size = st.size, ino = st.ino;
  } catch (err) {
    file.close();
    throw err;
  }
  let closed = false;
  // Each read waits for the previous one so interleaved seeks cannot corrupt offsets.
  let queue: Promise<unknown> = Promise.resolve();

  async function readExactly(
    offset: number,
    length: number,
    out: Uint8Array = new Uint8Array(length),
  ): Promise<Uint8Array> {
    await file.seek(offset, Deno.SeekMode.Start);
    let filled = 0;
    while (filled < length) {
      // read() may return fewer bytes than requested; keep going until full or EOF.
      const n = await file.read(out.subarray(filled));
      if (n === null) {
        throw new Error(
          `${path}: file ended early: expected ${length} bytes at offset ${offset}, ` +
            `got ${filled} (file was ${size} bytes when opened)`,
        );
      }
      filled += n;
    }
    return out;
  }

  return {
    size,
    file: { path, size, ino },
    readAt(offset, length) {
      if (closed) return Promise.reject(new Error(`${path}: reader is closed`));
      try {
        checkRange(offset, length, size, path);
      } catch (err) {
        return Promise.reject(err);
      }
      const result = queue.then(() => readExactly(offset, length));
      queue = result.catch(() => {});
      return result;
    },
    async readInto(offset, target) {
      if (closed) throw new Error(`${path}: reader is closed`);
      checkRange(offset, target.length, size, path);
      const result = queue.then(() => readExactly(offset, target.length, target));
      queue = result.catch(() => {});
      await result;
    },
    close() {
      if (closed) return;
      closed = true;
      file.close();
    },
  };
}

/**
 * Wraps `bytes` as a reader. Each read returns a copy that callers may mutate, or with `shared` a
 * view into `bytes`, for read-only callers such as the container reader.
 */
export function bufferReader(bytes: Uint8Array, shared = false): RandomAccessReader {
  let closed = false;
  return {
    size: bytes.length,
    readAt(offset, length) {
      if (closed) return Promise.reject(new Error("buffer reader is closed"));
      try {
        checkRange(offset, length, bytes.length, "buffer reader");
      } catch (err) {
        return Promise.reject(err);
      }
      const view = bytes.subarray(offset, offset + length);
      return Promise.resolve(shared ? view : view.slice());
    },
    close() {
      closed = true;
    },
  };
}
