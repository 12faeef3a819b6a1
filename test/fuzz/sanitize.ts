/**
 * `deno task sanitize`: runs the chunk corpus through the native kernel built under AddressSanitizer
 * and UndefinedBehaviorSanitizer (`deno task native --sanitize`, native/sanitize_driver.c): every
 * chunk of containers packed here from real weights (the stories260k fixture, and the shared
 * real-weights files up to 9 MB when `../shared/data` or `--data DIR` has them) and of the
 * known-answer containers, each also scattered as column-tile rows, then the fuzzer's corrupt
 * chunks and hostile descriptors. Any sanitizer report, or a decoded chunk that differs from its
 * known bytes, fails.
 *
 * ```
 * deno task sanitize [--data DIR] [--corrupt N] [--seed S]
 * ```
 * @module
 */
import { Rng } from "../codec/prng.ts";
import { caseRng } from "./core.ts";
import { chunksOf, realContainers, type SeedChunk, smallContainers } from "./corpus.ts";
import { expectedRaw, mutateChunk, seedChunks } from "./targets/formats.ts";
import { pick } from "./mutate.ts";

const REPO = new URL("../../", import.meta.url).pathname;
const DRIVER = `${REPO}native/build/sanitize_driver`;
const args = new Map<string, string>();
for (let i = 0; i < Deno.args.length; i += 2) args.set(Deno.args[i], Deno.args[i + 1] ?? "");
const dataDir = args.get("--data") ?? Deno.env.get("TESSERA_DATA") ?? `${REPO}../shared/data`;
const corrupt = Number(args.get("--corrupt") ?? 30_000);
const seed = Number(args.get("--seed") ?? 1);

/** One record of the driver's corpus (native/sanitize_driver.c). */
interface CorpusRecord {
  width: number;
  signMoved: boolean;
  /** The packed INT4 layout (the kernel's layout bit 9, ABI 3). */
  packed: boolean;
  stored: Uint8Array;
  rawLength: number;
  rawXxh32: number;
  dstLength: number;
  at: number;
  scatter: [number, number, number];
  expected: Uint8Array | null;
}

function encode(records: readonly CorpusRecord[]): Uint8Array {
  let n = 8;
  for (const r of records) n += 40 + r.stored.length + (r.expected?.length ?? 0);
  const out = new Uint8Array(n);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode("TSRSAN01"));
  let at = 8;
  for (const r of records) {
    const words = [
      r.width | (r.signMoved ? 256 : 0) | (r.packed ? 512 : 0),
      r.stored.length,
      r.rawLength,
      r.rawXxh32,
      r.dstLength,
      r.at,
      ...r.scatter,
      r.expected?.length ?? 0,
    ];
    words.forEach((w, i) => view.setUint32(at + 4 * i, w >>> 0, true));
    at += 40;
    out.set(r.stored, at);
    at += r.stored.length;
    if (r.expected) out.set(r.expected, at), at += r.expected.length;
  }
  return out;
}

/** A known chunk decoded in place, then again with its rows scattered as a column tile's are. */
function knownRecords(c: SeedChunk): CorpusRecord[] {
  const base = {
    width: c.layout.width,
    signMoved: c.layout.signMoved,
    packed: c.layout.packing === "int4",
    stored: c.stored,
    rawLength: c.entry.rawLength,
    rawXxh32: c.entry.rawXxh32,
  };
  const out: CorpusRecord[] = [{
    ...base,
    dstLength: c.entry.rawLength,
    at: 0,
    scatter: [0, 0, 0],
    expected: c.raw,
  }];
  const raw = c.entry.rawLength;
  const row = [8, 4, 2, 1].map((k) => k * c.layout.width).find((r) => raw % r === 0 && r < raw);
  if (row) {
    const rows = raw / row, stride = row + c.layout.width, target = raw;
    const need = target + (rows - 1) * stride + row;
    out.push({ ...base, dstLength: need, at: 0, scatter: [row, stride, target], expected: null });
    // One byte short: the kernel must refuse the scatter, not write past the end.
    out.push({
      ...base,
      dstLength: need - 1,
      at: 0,
      scatter: [row, stride, target],
      expected: null,
    });
  }
  return out;
}

const t0 = performance.now();
const known = await chunksOf([
  ...await smallContainers(),
  ...await realContainers(dataDir, 9 << 20),
]);
const records = known.flatMap(knownRecords);
await seedChunks();
for (let i = 0; i < corrupt; i++) {
  const rng = caseRng(seed, "sanitize", i);
  const x = mutateChunk(rng);
  const want = expectedRaw(x);
  const r: CorpusRecord = {
    width: x.layout.width,
    signMoved: x.layout.signMoved,
    packed: x.layout.packing === "int4",
    stored: x.stored,
    rawLength: x.entry.rawLength,
    rawXxh32: x.entry.rawXxh32,
    dstLength: x.entry.rawLength,
    at: 0,
    scatter: [0, 0, 0],
    expected: want,
  };
  if (rng.int(4) === 0) {
    // Hostile descriptor words: the kernel re-checks each in 64 bits.
    const hostile = new Rng(rng.u32());
    r.at = pick(hostile, [0, 1, r.dstLength, 0xffffffff, 0x80000000]);
    r.dstLength = pick(hostile, [r.dstLength, r.dstLength + 3, Math.max(0, r.dstLength - 1)]);
    r.width = pick(hostile, [r.width, 0, 3, 9, 255]);
    r.scatter = pick(hostile, [[0, 0, 0], [1, 0, 0], [0xffffffff, 1, 0], [r.width, r.width, 0]]);
    r.expected = null;
  }
  records.push(r);
}
const corpusPath = `${REPO}native/build/sanitize_corpus.bin`;
await Deno.writeFile(corpusPath, encode(records));
const built = performance.now();
const run = await new Deno.Command(DRIVER, {
  args: [corpusPath],
  env: {
    ASAN_OPTIONS: "detect_leaks=1:abort_on_error=1:strict_string_checks=1",
    UBSAN_OPTIONS: "halt_on_error=1:print_stacktrace=1",
  },
  stdout: "piped",
  stderr: "piped",
}).output();
const out = new TextDecoder().decode(run.stdout).trim();
const err = new TextDecoder().decode(run.stderr).trim();
if (err) console.error(err);
console.log(out);
console.log(
  `sanitize: ${records.length} records (${known.length} known chunks from real weights and ` +
    `known-answer containers, ${corrupt} corrupt), corpus ${
      ((built - t0) / 1000).toFixed(1)
    } s, kernel under ASan+UBSan ${((performance.now() - built) / 1000).toFixed(1)} s: ${
      run.success && !/runtime error|AddressSanitizer/.test(err) ? "clean" : "FAILED"
    }`,
);
Deno.exit(run.success && !/runtime error|AddressSanitizer/.test(err) ? 0 : 1);
