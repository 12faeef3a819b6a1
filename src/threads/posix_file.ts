/**
 * Positional reads and writes of local files on Deno's blocking threads: libc's `pread` and
 * `pwrite` as nonblocking FFI calls, so that several run at once, each at its own offset, while
 * the calling thread goes on (Deno's file API has neither positional calls nor file descriptors).
 * Linux with glibc only: elsewhere, or without the FFI permission, {@link posixFiles} is undefined.
 * @module
 */
import { ContainerError } from "../container/errors.ts";
import type { LocalFile } from "../container/source.ts";
import { changedFile } from "../container/assemble.ts";

const SYMBOLS = {
  open: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  fstat: { parameters: ["i32", "buffer"], result: "i32" },
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize", nonblocking: true },
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize", nonblocking: true },
} as const;

// Linux's values on x86-64 and arm64.
const O_RDONLY = 0, O_WRONLY = 1, O_CLOEXEC = 0o2000000;
// struct stat on x86-64 and arm64: st_ino at byte 8, st_size at byte 48; 144 and 128 bytes long.
const STAT_BYTES = 256, ST_INO = 8, ST_SIZE = 48;

/** Open file descriptors and positional I/O on them. */
export interface PosixFiles {
  /**
   * Opens the container file `file` for reading; throws `truncated` if the file at its path is no
   * longer the one its source opened (another size or inode).
   */
  openRead(file: LocalFile): number;
  /** Opens the existing file at `path` for writing. */
  openWrite(path: string): number;
  /**
   * Fills `into` from `fd` at `offset`, on another thread; `into` stays untouched until it
   * settles. Throws `truncated` naming `path` when the file ends first.
   */
  readAt(fd: number, into: Uint8Array, offset: number, path: string): Promise<void>;
  /** Writes all of `bytes` to `fd` at `offset`, on another thread. */
  writeAt(fd: number, bytes: Uint8Array, offset: number, path: string): Promise<void>;
  /** Closes `fd`. */
  close(fd: number): void;
}

let loaded: PosixFiles | null | undefined;

/**
 * libc's positional I/O, opened on the first call; undefined off Linux, without glibc, or without
 * the FFI permission (never prompts).
 *
 * @example
 * ```ts ignore
 * const io = posixFiles();
 * const fd = io!.openWrite("out.tmp");
 * await io!.writeAt(fd, bytes, 4096, "out.tmp");
 * io!.close(fd);
 * ```
 */
export function posixFiles(): PosixFiles | undefined {
  if (loaded === undefined) loaded = openPosixFiles() ?? null;
  return loaded ?? undefined;
}

function openPosixFiles(): PosixFiles | undefined {
  if (
    Deno.build.os !== "linux" || (Deno.build.arch !== "x86_64" && Deno.build.arch !== "aarch64")
  ) {
    return undefined;
  }
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return undefined;
  let f;
  try {
    f = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  } catch {
    return undefined; // not glibc
  }
  const cPath = (path: string) => new TextEncoder().encode(path + "\0");
  const openOrThrow = (path: string, flags: number, what: string): number => {
    const fd = f.open(cPath(path), flags | O_CLOEXEC, 0);
    // errno lives in libc's thread state, out of reach here: Deno's own open says why.
    if (fd < 0) {
      Deno.openSync(path, { read: flags === O_RDONLY, write: flags !== O_RDONLY }).close();
      throw new Error(`${path}: cannot open for ${what}`);
    }
    return fd;
  };
  return {
    openRead(file) {
      const fd = openOrThrow(file.path, O_RDONLY, "reading");
      const st = new Uint8Array(STAT_BYTES), view = new DataView(st.buffer);
      const changed = changedFile(
        file,
        f.fstat(fd, st) === 0
          ? {
            size: Number(view.getBigInt64(ST_SIZE, true)),
            ino: Number(view.getBigUint64(ST_INO, true)),
          }
          : undefined,
      );
      if (changed) {
        f.close(fd);
        throw changed;
      }
      return fd;
    },
    openWrite(path) {
      return openOrThrow(path, O_WRONLY, "writing");
    },
    async readAt(fd, into, offset, path) {
      for (let got = 0; got < into.length;) {
        const n = Number(
          await f.pread(fd, into.subarray(got), BigInt(into.length - got), BigInt(offset + got)),
        );
        if (n <= 0) {
          throw new ContainerError(
            "truncated",
            `${path}: ${n === 0 ? "file ended early" : "read failed"}: expected ${into.length} ` +
              `bytes at offset ${offset}`,
          );
        }
        got += n;
      }
    },
    async writeAt(fd, bytes, offset, path) {
      for (let put = 0; put < bytes.length;) {
        const n = Number(
          await f.pwrite(fd, bytes.subarray(put), BigInt(bytes.length - put), BigInt(offset + put)),
        );
        if (n <= 0) throw new Error(`${path}: write of ${bytes.length} bytes at ${offset} failed`);
        put += n;
      }
    },
    close(fd) {
      f.close(fd);
    },
  };
}
