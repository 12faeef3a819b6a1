import { mergePlanes, splitPlanes } from "../codec/planes.ts";
function rnd(n: number) {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = (Math.random() * 256) | 0;
  return a;
}
for (
  const [w, sm] of [[2, true], [2, false], [4, true], [4, false], [8, false], [1, false]] as const
) {
  for (const n of [0, 1, 3, 4, 5, 17, 1000, 65536 + 3]) {
    const src = rnd(n * w);
    const buf = new Uint8Array(n * w + 16);
    const planes = Array.from({ length: w }, (_, p) => new Uint8Array(n + 8).subarray(0, n));
    splitPlanes(src, w, sm, planes);
    for (const off of [0, 1, 4]) {
      const dst = buf.subarray(off, off + n * w);
      mergePlanes(planes, w, sm, dst);
      if (!dst.every((v, i) => v === src[i])) {
        console.log("FAIL", w, sm, n, off);
        Deno.exit(1);
      }
    }
  }
}
console.log("merge ok");
