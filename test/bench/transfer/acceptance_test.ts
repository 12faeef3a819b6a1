/**
 * The transfer bench's acceptance ratios of issue 8, from made-up results: each check reads the
 * right figures and compares with the goal.
 * @module
 */
import assert from "node:assert/strict";
import { acceptance } from "../../../bench/transfer/acceptance.ts";
import type { BenchFile } from "../../../bench/transfer/inputs.ts";
import type { TransferResult, TransferRun } from "../../../bench/transfer/measure_transfer.ts";
import type { Series } from "../../../bench/transfer/measure_unpack.ts";
import { PROFILES } from "../../../bench/transfer/profiles.ts";

const file: BenchFile = {
  stem: "many-tensor.bf16",
  id: "bench/many-tensor.bf16",
  source: "/x",
  size: 300e6,
  sha256: "0".repeat(64),
  tensors: 3000,
  tensorBytes: 299e6,
  fast: { path: "/x.tsr", size: 200e6, packMs: 1 },
  best: null,
  zstd: null,
  firstLayer: { key: "model.embed_tokens", tensors: 1, rawBytes: 8e6, storedBytes: 5e6 },
};
const series = (ms: number): Series => ({
  runsMs: [ms],
  medianMs: ms,
  mbPerSec: 1,
  peakRssKiB: 1,
  verified: true,
});
const run = (ms: number, extra: Partial<TransferRun> = {}): TransferRun => ({
  ms,
  verified: true,
  clientPeakRssKiB: null,
  serverPeakRssKiB: null,
  ...extra,
});
const t = (profile: string, method: TransferResult["method"], runs: TransferRun[]) => ({
  profile,
  stem: file.stem,
  method,
  runs,
});

Deno.test("acceptance: ratios and goals of issue 8", () => {
  const lines = acceptance({
    files: [file],
    profiles: PROFILES,
    unpack: [{
      stem: file.stem,
      size: file.size,
      fast: series(400),
      best: series(500),
      zstd: series(300),
    }],
    big: null,
    get: [],
    transfer: [
      t("loopback", "static", [run(100)]),
      t("loopback", "decoded", [run(150)]),
      t("loopback", "compressed", [run(300), run(250), run(260)]),
      t("loopback", "auto", [run(260, { transport: "compressed" })]),
      t("100mbit", "static", [run(24_000)]),
      t("100mbit", "compressed", [run(17_000)]),
      t("100mbit", "loadModel", [run(20_000, { firstLayerInProcessMs: 500 })]),
    ],
  });
  const find = (what: string) => lines.find((l) => l.what.includes(what))!;
  assert.equal(find("zstd -d -T1 time").value, 0.75);
  assert.equal(find("zstd -d -T1 time").pass, false); // the synthetic model needs >= 1
  assert.equal(find("best unpack speed").value, 0.8);
  assert.equal(find("loopback many-tensor.bf16: decoded").value, 100 / 150);
  assert.equal(find("loopback many-tensor.bf16: compressed").value, 100 / 260); // the median
  const auto = find("loopback many-tensor.bf16: auto");
  assert.equal(auto.pass, false); // decoded was faster by far
  // 100 Mbit/s: 1.1 x 24 s / 1.5 = 17.6 s allowed.
  const close = (a: number | null, b: number) => assert.ok(Math.abs(a! - b) < 1e-9, `${a} vs ${b}`);
  close(find("100mbit many-tensor.bf16: compressed pull").value, 17_000 / 17_600);
  assert.equal(find("100mbit many-tensor.bf16: compressed pull").pass, true);
  // First layer: 2 x 40 ms + 1.2 x 5e6 x 8 / 1e8 s = 80 + 480 ms.
  const first = find("loadModel first layer");
  close(first.value, 500 / 560);
  assert.equal(first.pass, true);
  // Missing figures are reported as not measured, never as met.
  assert.equal(find("1gbit many-tensor.bf16: compressed pull").pass, null);
});
