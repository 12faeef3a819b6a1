import { openContainer, streamOriginal } from "../src/container/read.ts";
import { bufferReader } from "../src/io/random_access.ts";
const f = Deno.args[0];
const bytes = await Deno.readFile(f);
const c = await openContainer(bufferReader(bytes));
for (let r = 0; r < 8; r++) {
  const t = performance.now();
  let n = 0;
  for await (const p of streamOriginal(c)) n += p.length;
  console.log(n / ((performance.now() - t) / 1000) / 1e6);
}
