import { packFile } from "../src/container/write.ts";
import { openContainer, streamOriginal } from "../src/container/read.ts";
import { bufferReader } from "../src/io/random_access.ts";
const T: Record<string, number> = {
  "stories260k.bf16": 1.482,
  "stories260k.fp16": 1.167,
  "stories260k.fp32": 1.193,
  "ppocrv4.bf16": 1.449,
  "ppocrv4.fp16": 1.164,
  "ppocrv4.fp32": 1.185,
  "human-fp32.bf16": 1.460,
  "human-fp32.fp32": 1.200,
};
const Z: Record<string, number> = {
  "stories260k.bf16": 1.470,
  "stories260k.fp16": 1.161,
  "stories260k.fp32": 1.193,
  "ppocrv4.bf16": 1.445,
  "ppocrv4.fp16": 1.160,
  "ppocrv4.fp32": 1.185,
  "human-fp32.bf16": 1.443,
  "human-fp32.fp32": 1.196,
};
for (const f of Deno.args.length ? Deno.args : Object.keys(T)) {
  const src = `../shared/data/${f}.safetensors`;
  const size = (await Deno.stat(src)).size;
  const row: string[] = [f];
  for (const mode of ["fast", "best"] as const) {
    const out = `/tmp/${f}.${mode}.tsr`;
    let t = performance.now();
    await packFile(src, out, { mode });
    const packS = (performance.now() - t) / 1000;
    const bytes = await Deno.readFile(out);
    const c = await openContainer(bufferReader(bytes));
    const times: number[] = [];
    for (let r = 0; r < 3; r++) {
      t = performance.now();
      let n = 0;
      for await (const p of streamOriginal(c)) n += p.length;
      times.push((performance.now() - t) / 1000);
    }
    times.sort();
    const ratio = size / bytes.length;
    row.push(
      `${mode} ${ratio.toFixed(3)} (${
        mode === "best" ? "tgt " + T[f] : "need " + (0.98 * Z[f]).toFixed(3)
      }) pack ${(size / packS / 1e6).toFixed(0)} dec ${(size / times[1] / 1e6).toFixed(0)} MB/s`,
    );
  }
  console.log(row.join(" | "));
}
