/**
 * Atomic file creation: write to a temporary sibling, fsync, then rename over the target, so a
 * reader sees either the old file or the complete new one, and a failure leaves nothing behind.
 * @module
 */

/** An open temporary file that becomes `path` on {@link AtomicFile.commit}. */
export interface AtomicFile {
  /** The open temporary file, for positional writes. */
  readonly file: Deno.FsFile;
  /** The temporary path. */
  readonly tempPath: string;
  /** Writes all of `bytes` at `offset`. */
  writeAt(offset: number, bytes: Uint8Array): Promise<void>;
  /** fsyncs, closes and renames onto the target. */
  commit(): Promise<void>;
  /** Closes and deletes the temporary file; safe to call after a failed commit. */
  abort(): Promise<void>;
}

// Alignment padding is at most 4095 bytes.
const MAX_GAP = 4096;

/** Creates a temporary file beside `path`. */
export async function createAtomicFile(path: string): Promise<AtomicFile> {
  const slash = path.lastIndexOf("/");
  const dir = slash >= 0 ? path.slice(0, slash + 1) : "";
  const base = slash >= 0 ? path.slice(slash + 1) : path;
  const tempPath = `${dir}.${base}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const file = await Deno.open(tempPath, { write: true, createNew: true });
  let closed = false, position = 0, frontier = 0;
  const close = () => {
    if (!closed) {
      closed = true;
      file.close();
    }
  };
  return {
    file,
    tempPath,
    async writeAt(offset, bytes) {
      const end = offset + bytes.length;
      // Packing writes almost always continue where the last write ended, or just past it after
      // alignment padding. Past the end of everything written, a short gap is written as zeros
      // with the bytes instead of seeking: a seek is an async call per chunk, 6% of a pack.
      const gap = offset - position;
      if (gap > 0 && gap <= MAX_GAP && position === frontier) {
        const joined = new Uint8Array(gap + bytes.length);
        joined.set(bytes, gap);
        bytes = joined;
      } else if (gap !== 0) await file.seek(offset, Deno.SeekMode.Start);
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      position = end;
      frontier = Math.max(frontier, end);
    },
    async commit() {
      await file.sync();
      close();
      await Deno.rename(tempPath, path);
      // The rename is only durable once the directory entry is.
      try {
        const d = await Deno.open(dir || ".", { read: true });
        try {
          await d.sync();
        } finally {
          d.close();
        }
      } catch {
        // Some platforms cannot fsync a directory; the file itself is already durable.
      }
    },
    async abort() {
      close();
      await Deno.remove(tempPath).catch(() => {});
    },
  };
}
