/**
 * The native decode kernels (native/tsr_kernel.c) through Deno FFI, for the server, the CLI and
 * the benchmarks. Without a built library (`deno task native`), without FFI permission, or with
 * `TESSERA_NATIVE=0`, the exports are undefined and the codec's TypeScript runs instead: the same
 * bytes, slower.
 * @module
 */

const SYMBOLS = {
  tsr_abi: { parameters: [], result: "u32" },
  tsr_xxh32: { parameters: ["buffer", "u32", "u32"], result: "u32" },
  tsr_decode_batch: {
    parameters: ["buffer", "u32", "buffer", "u32", "buffer", "u32", "buffer", "u32"],
    result: "u32",
  },
} as const;

/** Where `deno task native` puts the library. */
export const NATIVE_LIBRARY = new URL("../../native/build/libtsr_kernel.so", import.meta.url);

/** What the batch kernel needs of one chunk. */
export interface PieceDescription {
  /** Stored offset in the container. */
  readonly offset: number;
  /** Stored bytes. */
  readonly storedLength: number;
  /** Decoded bytes. */
  readonly rawLength: number;
  /** XXH32 of the decoded bytes. */
  readonly rawXxh32: number;
  /** Element width in bytes. */
  readonly width: number;
  /** Whether the sign bit moved to the mantissa plane. */
  readonly signMoved: boolean;
  /** Whether the layout is packed INT4: one plane of the tile's bytes. */
  readonly packed?: boolean;
  /** Output offset in `dst`. */
  readonly at: number;
  /** For a column tile: its rows, once decoded at `at`, are copied `stride` apart from `target`. */
  readonly scatter?: {
    readonly rowBytes: number;
    readonly stride: number;
    readonly target: number;
  };
}

/**
 * Decodes `pieces`, whose stored bytes are in `stored` (which starts at container offset `base`),
 * into `dst`, checking each against its XXH32, and scatters column tiles. Returns one flag per
 * piece: 1 where the kernel left the piece (a codec it does not handle, or a failure) for the
 * TypeScript decoder to redo, scatter included.
 */
export type BatchKernel = (
  stored: Uint8Array,
  base: number,
  pieces: PieceDescription[],
  dst: Uint8Array,
) => Uint8Array;

// The interface version and descriptor layout, as in tsr_kernel.c.
const ABI = 3;
const D_WORDS = 10, D_STATUS = 6, D_ROW_BYTES = 7;

function load(): { batch: BatchKernel; xxh32: (b: Uint8Array) => number } | undefined {
  if (Deno.env.get("TESSERA_NATIVE") === "0") return undefined;
  let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  try {
    lib = Deno.dlopen(NATIVE_LIBRARY, SYMBOLS);
  } catch (e) {
    // No build is the normal case without a compiler; a build that will not load is worth a word.
    if (existsSync(NATIVE_LIBRARY)) stale(`it does not load (${(e as Error).message})`);
    return undefined;
  }
  const f = lib.symbols;
  if (f.tsr_abi() !== ABI) {
    lib.close();
    stale(`its interface is version ${f.tsr_abi()}, not ${ABI}`);
    return undefined;
  }
  let scratch = new Uint8Array(0);
  const batch: BatchKernel = (stored, base, pieces, dst) => {
    const desc = new Uint32Array(pieces.length * D_WORDS);
    let maxRaw = 0;
    for (let k = 0; k < pieces.length; k++) {
      const p = pieces[k], d = k * D_WORDS;
      desc[d] = p.offset - base;
      desc[d + 1] = p.storedLength;
      desc[d + 2] = p.at;
      desc[d + 3] = p.rawLength;
      desc[d + 4] = p.width | (p.signMoved ? 256 : 0) | (p.packed ? 512 : 0);
      desc[d + 5] = p.rawXxh32;
      if (p.scatter) {
        desc[d + D_ROW_BYTES] = p.scatter.rowBytes;
        desc[d + D_ROW_BYTES + 1] = p.scatter.stride;
        desc[d + D_ROW_BYTES + 2] = p.scatter.target;
      }
      if (p.rawLength > maxRaw) maxRaw = p.rawLength;
    }
    if (scratch.length < maxRaw) scratch = new Uint8Array(maxRaw);
    const left = new Uint8Array(pieces.length);
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
    if (bad > 0) {
      for (let k = 0; k < pieces.length; k++) {
        left[k] = desc[k * D_WORDS + D_STATUS] ? 1 : 0;
      }
    }
    return left;
  };
  return { batch, xxh32: (b) => f.tsr_xxh32(b, b.length, 0) };
}

function existsSync(url: URL): boolean {
  try {
    return Deno.statSync(url).isFile;
  } catch {
    return false;
  }
}

function stale(why: string): void {
  console.warn(
    `native kernels: ignoring ${NATIVE_LIBRARY.pathname}: ${why}; ` +
      "run `deno task native` to rebuild it. Decoding uses the TypeScript codec meanwhile.",
  );
}

const loaded = load();

/** The native batch decoder, when the library is built and loadable. */
export const nativeBatch: BatchKernel | undefined = loaded?.batch;
/** Native XXH32, when the library is built and loadable. */
export const nativeXxh32: ((b: Uint8Array) => number) | undefined = loaded?.xxh32;

/**
 * Decodes one chunk (`stored`, exactly its stored bytes) into `out` with the native kernel, checked
 * against `rawXxh32`. Returns false, with `out` unspecified, when the kernel is not built or left the
 * chunk; the caller then runs the TypeScript decoder, which also names any failure.
 */
export function decodeChunkNative(
  stored: Uint8Array,
  rawXxh32: number,
  layout: { readonly width: number; readonly signMoved: boolean; readonly packing?: string },
  out: Uint8Array,
): boolean {
  if (!nativeBatch || out.length === 0) return false;
  const piece: PieceDescription = {
    offset: 0,
    storedLength: stored.length,
    rawLength: out.length,
    rawXxh32,
    width: layout.width,
    signMoved: layout.signMoved,
    packed: layout.packing === "int4",
    at: 0,
  };
  return nativeBatch(stored, 0, [piece], out)[0] === 0;
}
