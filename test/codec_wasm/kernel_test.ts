/**
 * The WebAssembly kernels decode what the native kernel and the TypeScript codec decode, byte for
 * byte, and hash like SHA-256; the committed module is what its C sources build to (checked when
 * clang is installed, as `.ci/run` does).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { wasmBackends } from "../../src/codec_wasm/backends.ts";
import { readRegion } from "../../src/container/read.ts";
import { buildWasm } from "../../native/build_wasm.ts";
import { driftingFp8, Rng } from "../codec/prng.ts";
import { buildSafetensors, type FixtureTensor } from "../safetensors/fixture.ts";
import {
  dtypeData,
  openBytes,
  packBytes,
  readOriginal,
  withTempDir,
} from "../helpers/container.ts";

const WASM = new URL("../../native/wasm/tsr_kernel.wasm", import.meta.url);

Deno.test("wasm kernels: every dtype and mode decodes exactly, column tiles included", async () => {
  const backends = await wasmBackends(await Deno.readFile(WASM));
  const rng = new Rng(17);
  const tensors: FixtureTensor[] = [];
  for (const dtype of ["BF16", "F16", "F32", "U8", "I32", "F64"] as const) {
    tensors.push({
      name: `t.${dtype}`,
      dtype,
      shape: [70, 300],
      data: dtypeData(dtype, 21000, rng),
    });
  }
  // Context rANS planes (codec 6) need 4 KiB planes with context: FP8 whose exponent drifts.
  tensors.push({
    name: "t.fp8",
    dtype: "F8_E4M3",
    shape: [100, 300],
    data: driftingFp8(rng, 30000),
  });
  const src = buildSafetensors(tensors);
  await withTempDir(async (dir) => {
    for (const mode of ["fast", "best"] as const) {
      const { bytes } = await packBytes(src, dir, { mode, chunkBytes: 16384 });
      const c = await openBytes(bytes, backends);
      assert.deepEqual(await readOriginal(c), src, mode);
      for (const t of c.index.tensors) await readRegion(c, t);
    }
  });
});

Deno.test("wasm kernels: SHA-256 matches node:crypto across update sizes", async () => {
  const { sha256 } = await wasmBackends(await Deno.readFile(WASM));
  const rng = new Rng(4);
  for (const n of [0, 1, 55, 56, 64, 1000, (1 << 20) + 3]) {
    const b = dtypeData("U8", n, rng);
    const h = sha256();
    h.update(b.subarray(0, n >> 1));
    const other = sha256(); // interleaved hashers keep their own state
    other.update(b);
    h.update(b.subarray(n >> 1));
    const want = createHash("sha256").update(b).digest("hex");
    assert.equal(h.hex(), want, `${n} bytes`);
    assert.equal(other.hex(), want);
  }
});

Deno.test("wasm kernels: the committed module is what the C sources build to", async () => {
  const out = await Deno.makeTempFile({ suffix: ".wasm" });
  try {
    if (!(await buildWasm(out))) {
      console.log("clang not installed: the wasm build check is skipped");
      return;
    }
    assert.deepEqual(await Deno.readFile(out), await Deno.readFile(WASM), "run `deno task wasm`");
  } finally {
    await Deno.remove(out);
  }
});
