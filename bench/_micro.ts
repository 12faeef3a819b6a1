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
