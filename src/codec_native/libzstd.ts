/**
 * Zstandard through the system's libzstd (Debian's dpkg depends on it, so every Debian machine has
 * it) opened with Deno FFI. node:zlib has the same library, but the first `node:` import of a
 * process costs about 45 ms of Node-compatibility start-up, a third of a small unpack; fzstd, the
 * portable decoder, runs at about a third of the native speed. Nothing is opened on import.
 * @module
 */
import { checkedInflate, type ZstdDecompress } from "../../codec/zstd_decode.ts";

const SYMBOLS = {
  ZSTD_decompress: { parameters: ["buffer", "usize", "buffer", "usize"], result: "usize" },
  ZSTD_isError: { parameters: ["usize"], result: "u32" },
} as const;

// Debian and most Linux distributions ship the library under its soname; macOS under the dylib.
const NAMES = ["libzstd.so.1", "libzstd.so", "libzstd.1.dylib", "libzstd.dylib"];

let loaded: ZstdDecompress | null | undefined;

/**
 * A Zstandard decoder over the system library, opened on the first call; undefined when the
 * library or FFI permission is missing. Frames are checked as by every decoder of the codec:
 * whole frames that declare exactly `rawLength` bytes.
 *
 * @example
 * ```ts ignore
 * const zstd = loadLibzstd();
 * if (zstd) console.log(zstd(frame, 64).length);
 * ```
 */
export function loadLibzstd(): ZstdDecompress | undefined {
  if (loaded === undefined) loaded = open() ?? null;
  return loaded ?? undefined;
}

function open(): ZstdDecompress | undefined {
  for (const name of NAMES) {
    let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
    try {
      lib = Deno.dlopen(name, SYMBOLS);
    } catch {
      continue;
    }
    const f = lib.symbols;
    return (src, rawLength) =>
      checkedInflate(src, rawLength, (s) => {
        // One spare byte: a frame that inflates to more than it declared fails the length check
        // instead of being cut to fit.
        const out = new Uint8Array(rawLength + 1);
        const n = f.ZSTD_decompress(out, BigInt(out.length), s, BigInt(s.length));
        if (f.ZSTD_isError(n)) throw new Error(`libzstd error ${-BigInt.asIntN(64, BigInt(n))}`);
        return out.subarray(0, Number(n));
      });
  }
  return undefined;
}
