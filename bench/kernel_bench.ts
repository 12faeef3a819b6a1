/**
 * Micro-benchmark of the decode kernels on one real 128 Ki-element BF16 chunk: the rANS symbol
 * loop, the word-wise plane merge, XXH32, and the fused rANS+merge loop. Best of many runs, so it
 * shows what each loop costs when nothing else interferes.
 * Run: deno run -A bench/kernel_bench.ts
 * @module
 */
import { ransBound, ransEncode } from "../codec/rans/encode.ts";
import { ransDecode, ransDecodeMerged } from "../codec/rans/decode.ts";
import { xxh32 } from "../codec/xxh32.ts";
import { mergePlanes, splitPlanes } from "../codec/planes.ts";

const file = new URL("../../shared/data/human-fp32.bf16.safetensors", import.meta.url);
const bytes = Deno.readFileSync(file);
const n = 1 << 17;
const raw = bytes.slice(1 << 20, (1 << 20) + 2 * n);
const exp = new Uint8Array(n), man = new Uint8Array(n);
splitPlanes(raw, 2, true, [man, exp]);
const scratch = new Uint8Array(ransBound(n));
const enc = scratch.slice(0, ransEncode(exp, scratch));
const dec = new Uint8Array(n), out = new Uint8Array(2 * n);
const slots = new Int32Array(4096), words = new Uint16Array(n);

function best(f: () => void, reps = 300): number {
  for (let i = 0; i < 30; i++) f();
  let m = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    f();
    m = Math.min(m, performance.now() - t);
  }
  return m;
}

const ns = (ms: number) => (ms * 1e6 / n).toFixed(2);
const rans = best(() => ransDecode(enc, dec, slots, words));
const merge = best(() => mergePlanes([man, dec], 2, true, out));
const hash = best(() => xxh32(out));
const fused = best(() => ransDecodeMerged(enc, [man, dec], 2, out, slots, words));
if (!out.every((v, i) => v === raw[i])) {
  throw new Error("fused decode does not reproduce the chunk");
}
console.log(`exponent plane: ${(enc.length * 8 / n).toFixed(3)} bits/symbol`);
console.log(
  `rANS ${ns(rans)} ns/symbol, merge ${ns(merge)} ns/element, XXH32 ${ns(hash)} ns/element`,
);
console.log(
  `fused rANS+merge ${ns(fused)} ns/element; with XXH32 ${
    (2 * n / (fused + hash) / 1e3).toFixed(0)
  } MB/s of BF16`,
);
