/**
 * The native library (native/tsr_kernel.c and native/tsr_sha256.c) through Deno FFI: the batch
 * chunk decoder, XXH32 and SHA-256. Nothing is opened on import: an entry point calls
 * {@link loadNativeLibrary}, which finds nothing without a build (`deno task native`), without FFI
 * permission, or with `TESSERA_NATIVE=0`; the TypeScript codec then decodes the same bytes.
 * @module
 */
import type { BatchKernel, Hasher } from "../container/backends.ts";
import { D_STATUS, D_WORDS, fillPieceTable, KERNEL_ABI } from "../container/kernel_table.ts";
import { nativeSources } from "./source_digest.ts";

const SYMBOLS = {
  tsr_abi: { parameters: [], result: "u32" },
  tsr_source_sha256: { parameters: [], result: "pointer" },
  tsr_xxh32: { parameters: ["buffer", "u32", "u32"], result: "u32" },
  tsr_decode_batch: {
    parameters: ["buffer", "u32", "buffer", "u32", "buffer", "u32", "buffer", "u32"],
    result: "u32",
  },
  tsr_sha256_accelerated: { parameters: [], result: "u32" },
  tsr_sha256_init: { parameters: ["buffer"], result: "void" },
  tsr_sha256_update: { parameters: ["buffer", "buffer", "u64"], result: "void" },
  // The same, on a thread of Deno's blocking pool: hashing overlaps decoding and writing.
  tsr_sha256_update_async: {
    name: "tsr_sha256_update",
    parameters: ["buffer", "buffer", "u64"],
    result: "void",
    nonblocking: true,
  },
  tsr_sha256_final: { parameters: ["buffer", "buffer"], result: "void" },
} as const;

/** Where `deno task native` puts the library. */
export const NATIVE_LIBRARY = new URL("../../native/build/libtsr_kernel.so", import.meta.url);

/** What the native library offers. */
export interface NativeLibrary {
  /** The batch chunk decoder. */
  readonly batch: BatchKernel;
  /** XXH32 with seed 0. */
  readonly xxh32: (b: Uint8Array) => number;
  /** Starts an incremental SHA-256. */
  readonly sha256: () => Hasher;
  /**
   * A SHA-256 whose state lives in `state` ({@link SHA256_STATE_BYTES} bytes, shared memory as
   * well): started afresh with `fresh`, else continued from what another hasher (on this thread or
   * another) left there. The caller orders the updates.
   */
  readonly sha256In: (state: Uint8Array, fresh: boolean) => Hasher;
  /** Whether SHA-256 runs on the CPU's SHA extensions. */
  readonly shaAccelerated: boolean;
}

/** sizeof(tsr_sha256_state) in tsr_sha256.c. */
export const SHA256_STATE_BYTES = 112;

let loaded: NativeLibrary | null | undefined;

/**
 * The batch kernel's status of each of its `n` pieces, read from the table it filled in; all 0
 * (decoded) without a read when it reports `bad` = 0 failures.
 */
function statusesOf(desc: Uint32Array, n: number, bad: number): Uint8Array {
  const left = new Uint8Array(n);
  if (bad > 0) { for (let k = 0; k < n; k++) left[k] = desc[k * D_WORDS + D_STATUS]; }
  return left;
}

/**
 * The native library, opened on the first call; undefined when it is not built, not loadable,
 * not permitted, or turned off with `TESSERA_NATIVE=0`.
 *
 * @example
 * ```ts ignore
 * const lib = loadNativeLibrary();
 * console.log(lib ? "native kernels" : "TypeScript codec");
 * ```
 */
export function loadNativeLibrary(): NativeLibrary | undefined {
  if (loaded === undefined) loaded = openNativeLibrary(NATIVE_LIBRARY) ?? null;
  return loaded ?? undefined;
}

/**
 * Opens the native library at `url`, uncached (use {@link loadNativeLibrary}); undefined when it
 * will not load, has another interface version, or was built from other sources than those
 * beside this module, each said in one warning line.
 */
export function openNativeLibrary(url: URL): NativeLibrary | undefined {
  try {
    if (Deno.env.get("TESSERA_NATIVE") === "0") return undefined;
  } catch {
    // No permission to read the environment: the default applies.
  }
  let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  try {
    lib = Deno.dlopen(url, SYMBOLS);
  } catch (e) {
    // No build is the normal case without a compiler; a build that will not load is worth a word.
    if (existsSync(url)) stale(url, `it does not load (${(e as Error).message})`);
    return undefined;
  }
  const f = lib.symbols;
  if (f.tsr_abi() !== KERNEL_ABI) {
    lib.close();
    stale(url, `its interface is version ${f.tsr_abi()}, not ${KERNEL_ABI}`);
    return undefined;
  }
  let scratch = new Uint8Array(0);
  const batch: BatchKernel = (stored, base, pieces, dst) => {
    const desc = new Uint32Array(pieces.length * D_WORDS);
    const maxRaw = fillPieceTable(desc, pieces, base);
    if (scratch.length < maxRaw) scratch = new Uint8Array(maxRaw);
    const bad = f.tsr_decode_batch(
      stored,
      stored.length,
      dst,
      dst.length,
      desc,
      pieces.length,
      scratch,
      scratch.length,
    );
    return statusesOf(desc, pieces.length, bad);
  };
  const sha256In = (state: Uint8Array, fresh: boolean): Hasher => {
    if (state.length < SHA256_STATE_BYTES) {
      throw new RangeError(
        `SHA-256 state needs ${SHA256_STATE_BYTES} bytes: received ${state.length}`,
      );
    }
    if (fresh) f.tsr_sha256_init(state);
    return {
      update(bytes) {
        if (bytes.length > 0) f.tsr_sha256_update(state, bytes, BigInt(bytes.length));
      },
      async updateAsync(bytes) {
        if (bytes.length > 0) await f.tsr_sha256_update_async(state, bytes, BigInt(bytes.length));
      },
      hex() {
        const out = new Uint8Array(32);
        f.tsr_sha256_final(state, out);
        let s = "";
        for (const b of out) s += (b < 16 ? "0" : "") + b.toString(16);
        return s;
      },
    };
  };
  const sha256 = () => sha256In(new Uint8Array(SHA256_STATE_BYTES), true);
  // The same interface version is no proof of the same code: a library left from an older
  // checkout once decoded a newer layout into garbage and crashed the process.
  const sources = nativeSources();
  if (sources !== undefined) {
    const h = sha256();
    h.update(sources);
    if (Deno.UnsafePointerView.getCString(f.tsr_source_sha256()!) !== h.hex()) {
      lib.close();
      stale(url, "it was built from other sources than native/*.c");
      return undefined;
    }
  }
  return {
    batch,
    xxh32: (b) => f.tsr_xxh32(b, b.length, 0),
    sha256,
    sha256In,
    shaAccelerated: f.tsr_sha256_accelerated() === 1,
  };
}

function existsSync(url: URL): boolean {
  try {
    return Deno.statSync(url).isFile;
  } catch {
    return false;
  }
}

function stale(url: URL, why: string): void {
  console.warn(
    `native kernels: ignoring ${url.pathname}: ${why}; ` +
      "run `deno task native` to rebuild it. Decoding uses the TypeScript codec meanwhile.",
  );
}
