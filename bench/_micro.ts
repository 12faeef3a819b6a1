import { ransBound, ransEncode } from "../codec/rans/encode.ts";
import { ransDecode } from "../codec/rans/decode.ts";
import { xxh32 } from "../codec/xxh32.ts";
import { mergePlanes, splitPlanes } from "../codec/planes.ts";
const b = Deno.readFileSync("../shared/data/human-fp32.bf16.safetensors");
const n = 1 << 17;
const raw = b.slice(1 << 20, (1 << 20) + 2 * n);
const exp = new Uint8Array(n), man = new Uint8Array(n);
splitPlanes(raw, 2, true, [man, exp]);
const out = new Uint8Array(ransBound(n));
const len = ransEncode(exp, out);
const enc = out.slice(0, len);
const dec = new Uint8Array(n);
const slots = new Int32Array(4096);
const o2 = new Uint8Array(2 * n);
function best(f: () => void, reps = 300) {
  for (let i = 0; i < 30; i++) f();
  let m = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    f();
    m = Math.min(m, performance.now() - t);
  }
  return m;
}
const tr = best(() => ransDecode(enc, dec, slots));
const tm = best(() => mergePlanes([man, dec], 2, true, o2));
const tx = best(() => xxh32(o2));
console.log(
  `rans ${(tr * 1e6 / n).toFixed(2)} ns/sym, merge ${(tm * 1e6 / n).toFixed(2)} ns/elem, xxh32 ${
    (tx * 1e6 / n).toFixed(2)
  } ns/elem; total ${((tr + tm + tx) * 1e6 / n).toFixed(2)} ns/elem = ${
    (2 * n / (tr + tm + tx) / 1e3).toFixed(0)
  } MB/s`,
);
const big = new Uint8Array(2 * n);
const tc = best(() => o2.set(big));
const i32 = new Int32Array(o2.buffer);
const j32 = new Int32Array(big.buffer);
const tl = best(() => {
  for (let i = 0; i < i32.length; i++) i32[i] = j32[i] ^ 5;
});
console.log(
  `memcpy ${(tc * 1e6 / n).toFixed(3)} ns/elem, int32 loop ${(tl * 1e6 / n).toFixed(3)} ns/elem`,
);
import { ransDecodeMerged } from "../codec/rans/decode.ts";
const tf = best(() => ransDecodeMerged(enc, [man, dec], 2, o2, slots));
console.log(
  `fused ${(tf * 1e6 / n).toFixed(2)} ns/elem; +xxh ${(2 * n / (tf + tx) / 1e3).toFixed(0)} MB/s`,
);
// correctness of fused vs plain for odd sizes
import { splitPlanes as sp } from "../codec/planes.ts";
for (const w of [2, 4] as const) {
  for (const nn of [5, 6, 7, 8, 1001]) {
    const r = b.slice(5000, 5000 + w * nn);
    const pl = Array.from({ length: w }, () => new Uint8Array(nn));
    sp(r, w, true, pl);
    const buf = new Uint8Array(ransBound(nn));
    const e = buf.slice(0, ransEncode(pl[w - 1], buf));
    const d = new Uint8Array(w * nn);
    ransDecodeMerged(e, pl, w, d, slots);
    if (!d.every((v, k) => v === r[k])) console.log("FUSED MISMATCH", w, nn);
  }
}
console.log("fused checks done");
