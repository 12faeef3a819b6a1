/**
 * The decode kernels compiled to WebAssembly (`native/wasm/tsr_kernel.wasm`, built by
 * `deno task wasm` from the same C as the native library): the batch chunk decoder and SHA-256 for
 * browsers, injected as backends like the native ones. Browser-safe: the caller fetches or reads
 * the module's bytes, so this file does no I/O.
 *
 * The module has its own memory: a batch copies its stored bytes in and the decoded regions out,
 * which costs a memcpy beside the decode.
 * @module
 */
import type { BatchKernel, Hasher } from "../container/backends.ts";
import { D_STATUS, D_WORDS, fillPieceTable, KERNEL_ABI } from "../container/kernel_table.ts";

const SHA_STATE_BYTES = 112;
const PAGE = 65536;

interface Exports {
  readonly memory: WebAssembly.Memory;
  readonly __heap_base: WebAssembly.Global;
  tsr_abi(): number;
  tsr_xxh32(data: number, len: number, seed: number): number;
  tsr_decode_batch(
    stored: number,
    storedLen: number,
    dst: number,
    dstLen: number,
    desc: number,
    count: number,
    scratch: number,
    scratchLen: number,
  ): number;
  tsr_sha256_init(state: number): void;
  tsr_sha256_update(state: number, data: number, len: bigint): void;
  tsr_sha256_final(state: number, out: number): void;
}

/** What the WebAssembly kernels offer. */
export interface WasmLibrary {
  /** The batch chunk decoder. */
  readonly batch: BatchKernel;
  /** Starts an incremental SHA-256. */
  readonly sha256: () => Hasher;
}

/**
 * Instantiates the kernels from the module's bytes; rejects when they are not the interface this
 * binding speaks.
 *
 * @example
 * ```ts ignore
 * const bytes = await (await fetch("/assets/tsr_kernel.wasm")).arrayBuffer();
 * const lib = await instantiateWasmKernel(bytes);
 * ```
 */
export async function instantiateWasmKernel(bytes: BufferSource): Promise<WasmLibrary> {
  const { instance } = await WebAssembly.instantiate(bytes, {});
  return bind(instance);
}

/**
 * {@link instantiateWasmKernel} without waiting: for Deno, or a browser worker, where compiling a
 * 22 KB module synchronously is allowed.
 */
export function instantiateWasmKernelSync(bytes: BufferSource): WasmLibrary {
  return bind(new WebAssembly.Instance(new WebAssembly.Module(bytes), {}));
}

function bind(instance: WebAssembly.Instance): WasmLibrary {
  const x = instance.exports as unknown as Exports;
  if (x.tsr_abi() !== KERNEL_ABI) {
    throw new Error(
      `wasm kernels: interface version ${x.tsr_abi()}, this binding speaks ${KERNEL_ABI}`,
    );
  }
  const base = (Number(x.__heap_base.value) + 63) & ~63;
  // Memory below `arena` holds the SHA-256 states in use; above it, one batch at a time.
  const ensure = (end: number) => {
    const have = x.memory.buffer.byteLength;
    if (end > have) x.memory.grow(Math.ceil((end - have) / PAGE));
  };
  const heap = () => new Uint8Array(x.memory.buffer);
  // One SHA-256 state slot: each hasher keeps its state in JavaScript and swaps it in per update,
  // so that a hasher dropped without a digest leaks nothing.
  const slot = base, arena = base + SHA_STATE_BYTES + 64;
  ensure(arena);

  const batch: BatchKernel = (stored, storedBase, pieces, dst) => {
    let maxRaw = 0;
    for (const p of pieces) if (p.rawLength > maxRaw) maxRaw = p.rawLength;
    const at = (n: number, size: number) => (n + size + 63) & ~63;
    const storedAt = arena, dstAt = at(storedAt, stored.length);
    const descAt = at(dstAt, dst.length), scratchAt = at(descAt, pieces.length * D_WORDS * 4);
    ensure(scratchAt + maxRaw);
    heap().set(stored, storedAt);
    const desc = new Uint32Array(x.memory.buffer, descAt, pieces.length * D_WORDS);
    desc.fill(0);
    fillPieceTable(desc, pieces, storedBase);
    x.tsr_decode_batch(
      storedAt,
      stored.length,
      dstAt,
      dst.length,
      descAt,
      pieces.length,
      scratchAt,
      maxRaw,
    );
    // Only what a finished piece wrote is copied out: its rows, or the whole decoded chunk.
    const mem = heap(), status = new Uint32Array(x.memory.buffer, descAt, pieces.length * D_WORDS);
    const left = new Uint8Array(pieces.length);
    for (let k = 0; k < pieces.length; k++) {
      const p = pieces[k];
      left[k] = status[k * D_WORDS + D_STATUS];
      if (left[k]) continue;
      if (!p.scatter) {
        dst.set(mem.subarray(dstAt + p.at, dstAt + p.at + p.rawLength), p.at);
        continue;
      }
      const { rowBytes, stride, target } = p.scatter;
      for (let r = 0, rows = p.rawLength / rowBytes; r < rows; r++) {
        const from = dstAt + target + r * stride;
        dst.set(mem.subarray(from, from + rowBytes), target + r * stride);
      }
    }
    return left;
  };

  const sha256 = (): Hasher => {
    x.tsr_sha256_init(slot);
    const state = heap().slice(slot, slot + SHA_STATE_BYTES), STEP = 1 << 20;
    return {
      update(bytes) {
        heap().set(state, slot);
        // Fed through the batch arena a MiB at a time.
        for (let off = 0; off < bytes.length; off += STEP) {
          const part = bytes.subarray(off, Math.min(bytes.length, off + STEP));
          ensure(arena + part.length);
          heap().set(part, arena);
          x.tsr_sha256_update(slot, arena, BigInt(part.length));
        }
        state.set(heap().subarray(slot, slot + SHA_STATE_BYTES));
      },
      hex() {
        heap().set(state, slot);
        x.tsr_sha256_final(slot, arena);
        let s = "";
        for (const b of heap().subarray(arena, arena + 32)) {
          s += (b < 16 ? "0" : "") + b.toString(16);
        }
        return s;
      },
    };
  };
  return { batch, sha256 };
}
