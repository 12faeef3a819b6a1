/**
 * Fuzz targets for the HTTP parsers: `Range`, the conditional headers and HTTP-dates, tile slice
 * parameters, and the names and paths that reach the model store. Besides "no undocumented error",
 * each result is checked against an independent oracle or its documented properties.
 * @module
 */
import { DTYPES, dtypeWidth } from "../../../codec/dtype.ts";
import { ContainerError } from "../../../src/container/errors.ts";
import type { TensorEntry } from "../../../src/container/index_schema.ts";
import {
  evaluatePreconditions,
  ifRange,
  parseEtagList,
  parseHttpDate,
  type Preconditions,
} from "../../../src/http/conditional.ts";
import { wantedDigest } from "../../../src/http/digest.ts";
import { MAX_RANGES, parseRange, type RangeRequest } from "../../../src/http/range.ts";
import { selectTile } from "../../../src/server/selection.ts";
import { StoreError } from "../../../src/store/errors.ts";
import {
  checkBranch,
  checkIdPart,
  checkRepoPath,
  checkRevision,
} from "../../../src/store/names.ts";
import type { Rng } from "../../codec/prng.ts";
import { check, type FuzzTarget } from "../core.ts";
import { HOSTILE_STRINGS, pick, randomString } from "../mutate.ts";

// ---- Range -------------------------------------------------------------------------------------

const DIGITS = "0123456789";

function number(rng: Rng, size: number): string {
  const zeros = rng.int(4) === 0 ? "0".repeat(rng.int(40)) : "";
  const v = pick(rng, [
    () => String(rng.int(size + 2)),
    () => String(size),
    () => String(size - 1),
    () => "9007199254740991",
    () => "9007199254740992",
    () => "9007199254740993",
    () => randomString(rng, 30, DIGITS) || "0",
    () => String(rng.int(100)),
  ])();
  return zeros + v;
}

function rangeHeader(rng: Rng, size: number): string {
  if (rng.int(8) === 0) return randomString(rng, 40);
  const specs: string[] = [];
  const n = rng.int(4) === 0 ? rng.int(40) : 1 + rng.int(3);
  for (let i = 0; i < n; i++) {
    const ws = () => (rng.int(6) === 0 ? pick(rng, [" ", "\t", "  "]) : "");
    switch (rng.int(6)) {
      case 0:
        specs.push(`${ws()}-${number(rng, size)}${ws()}`);
        break;
      case 1:
        specs.push(`${number(rng, size)}-`);
        break;
      case 2:
        specs.push(pick(rng, ["", " ", "-", "a-b", "1-2-3", "0x1-2", "+1-2", "1.5-2"]));
        break;
      default:
        specs.push(`${ws()}${number(rng, size)}${ws()}-${ws()}${number(rng, size)}`);
    }
  }
  const unit = rng.int(10) === 0 ? pick(rng, ["items", "BYTES", " bytes ", "byte"]) : "bytes";
  let h = `${unit}=${specs.join(pick(rng, [",", ", ", " ,"]))}`;
  if (rng.int(10) === 0) {
    const i = rng.int(h.length + 1);
    h = h.slice(0, i) + randomString(rng, 3) + h.slice(i);
  }
  return h;
}

/** The policy of src/http/range.ts re-derived with BigInt arithmetic, as the oracle. */
function rangeOracle(header: string, size: number): RangeRequest {
  if (header.length > 4096) return { kind: "full" };
  const eq = header.indexOf("=");
  if (eq < 0 || header.slice(0, eq).trim().toLowerCase() !== "bytes") return { kind: "full" };
  const big = BigInt(size);
  const wanted: [bigint, bigint][] = [];
  let specs = 0;
  for (const raw of header.slice(eq + 1).split(",")) {
    const spec = raw.trim();
    if (spec === "") continue;
    specs++;
    const m = /^(\d*)\s*-\s*(\d*)$/.exec(spec);
    if (!m || (m[1] === "" && m[2] === "")) return { kind: "full" };
    if (m[1] === "") {
      const suffix = BigInt(m[2]);
      if (suffix > 0n && big > 0n) wanted.push([suffix > big ? 0n : big - suffix, big]);
      continue;
    }
    const first = BigInt(m[1]);
    if (m[2] !== "" && BigInt(m[2]) < first) return { kind: "full" };
    const end = m[2] === "" ? big : BigInt(m[2]) + 1n < big ? BigInt(m[2]) + 1n : big;
    if (first < big) wanted.push([first, end]);
  }
  if (specs === 0) return { kind: "full" };
  if (wanted.length === 0) return { kind: "unsatisfiable" };
  wanted.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1));
  const merged: [bigint, bigint][] = [];
  for (const r of wanted) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1]) last[1] = r[1] > last[1] ? r[1] : last[1];
    else merged.push([r[0], r[1]]);
  }
  if (merged.length > MAX_RANGES) return { kind: "full" };
  return {
    kind: "ranges",
    ranges: merged.map(([s, e]) => ({ start: Number(s), end: Number(e) })),
  };
}

/** `parseRange` against a BigInt oracle of the same policy, on structured and random headers. */
export const rangeTarget: FuzzTarget<{ header: string; size: number }> = {
  name: "range",
  covers: "src/http/range.ts parseRange",
  generate(rng) {
    const size = pick(rng, [0, 1, 10, 1000, rng.int(1 << 20), 2 ** 53 - 1, 2 ** 40]);
    return { header: rangeHeader(rng, size), size };
  },
  run({ header, size }) {
    const got = parseRange(header, size);
    const want = rangeOracle(header, size);
    check(
      JSON.stringify(got) === JSON.stringify(want),
      () =>
        `parseRange(${JSON.stringify(header)}, ${size}) = ${JSON.stringify(got)}, ` +
        `oracle ${JSON.stringify(want)}`,
    );
  },
  expected: () => false,
};

// ---- Conditional headers -------------------------------------------------------------------

const ETAGS = ['"a"', '"abc"', 'W/"a"', "*", '""', '"a', "W/", '"\u0000"', '"é"'];

function tagList(rng: Rng): string {
  if (rng.int(5) === 0) return randomString(rng, 30);
  const n = 1 + rng.int(4);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(pick(rng, ETAGS));
  return parts.join(pick(rng, [",", ", ", " , ", ",,"]));
}

function dateText(rng: Rng, t: number): string {
  const d = new Date(t);
  switch (rng.int(5)) {
    case 0:
      return randomString(rng, 32);
    case 1: // asctime
      return d.toUTCString().replace(
        /^(\w+), (\d\d) (\w+) (\d{4}) (\S+) GMT$/,
        (_m, w, dd, mon, y, hms) => `${w} ${mon} ${dd.replace(/^0/, " ")} ${hms} ${y}`,
      );
    case 2: // rfc850
      return d.toUTCString().replace(
        /^(\w+), (\d\d) (\w+) \d\d(\d\d) (\S+) GMT$/,
        (_m, w, dd, mon, yy, hms) =>
          `${
            {
              Mon: "Monday",
              Tue: "Tuesday",
              Wed: "Wednesday",
              Thu: "Thursday",
              Fri: "Friday",
              Sat: "Saturday",
              Sun: "Sunday",
            }[w as string]
          }, ${dd}-${mon}-${yy} ${hms} GMT`,
      );
    default:
      return d.toUTCString();
  }
}

interface ConditionalInput {
  method: string;
  p: Preconditions;
  etag: string | null;
  lastModified: number | null;
  ifRange: string | null;
  date: number;
  dateText: string;
  wantDigest: string;
}

/** Preconditions: no error; §13.2.2 properties; HTTP-dates round-trip. */
export const conditionalTarget: FuzzTarget<ConditionalInput> = {
  name: "conditional",
  covers: "src/http/conditional.ts evaluatePreconditions, ifRange, parseEtagList, parseHttpDate; " +
    "src/http/digest.ts wantedDigest",
  generate(rng) {
    const date = Math.floor(rng.float() * 253402300799) * 1000; // year 1970 .. 9999
    const opt = (f: () => string) => (rng.int(2) ? f() : null);
    return {
      method: pick(rng, ["GET", "HEAD", "PUT", "DELETE", "POST"]),
      p: {
        ifMatch: opt(() => tagList(rng)),
        ifUnmodifiedSince: opt(() => dateText(rng, date + pick(rng, [-1000, 0, 1000]))),
        ifNoneMatch: opt(() => tagList(rng)),
        ifModifiedSince: opt(() => dateText(rng, date + pick(rng, [-1000, 0, 1000]))),
      },
      etag: rng.int(6) ? pick(rng, ['"a"', '"abc"', '""']) : null,
      lastModified: rng.int(2) ? date : null,
      ifRange: opt(() => rng.int(2) ? pick(rng, ETAGS) : dateText(rng, date)),
      date,
      dateText: dateText(rng, date),
      wantDigest: rng.int(3)
        ? pick(rng, ["sha-256", "sha-512=3, sha-256=9", "md5=1", "sha-256=0", "SHA-256"]) +
          (rng.int(4) ? "" : randomString(rng, 6))
        : randomString(rng, 20),
    };
  },
  run(x) {
    const cur = { etag: x.etag, lastModified: x.lastModified ?? undefined };
    const verdict = evaluatePreconditions(x.method, x.p, cur);
    check(["proceed", "not_modified", "failed"].includes(verdict), `verdict ${verdict}`);
    const read = x.method === "GET" || x.method === "HEAD";
    check(read || verdict !== "not_modified", `${x.method} answered not_modified`);
    // If-Match naming the current tag strongly passes step 1 and skips step 2.
    if (x.etag !== null && x.p.ifMatch != null) {
      const withCurrent = { ...x.p, ifMatch: `${x.p.ifMatch}, ${x.etag}` };
      const without = { ...x.p, ifMatch: null, ifUnmodifiedSince: null };
      check(
        evaluatePreconditions(x.method, withCurrent, cur) ===
          evaluatePreconditions(x.method, without, cur),
        () => `If-Match with the current tag changed the outcome: ${JSON.stringify(x)}`,
      );
    }
    ifRange(x.ifRange, cur);
    const digest = wantedDigest(x.wantDigest);
    check(digest === null || digest === "sha-256" || digest === "sha-512", `digest ${digest}`);
    if (x.p.ifMatch != null) parseEtagList(x.p.ifMatch);
    const parsed = parseHttpDate(x.dateText);
    check(parsed === null || Number.isSafeInteger(parsed), `date ${parsed}`);
    if (/GMT$/.test(x.dateText) && x.dateText === new Date(x.date).toUTCString()) {
      check(parsed === x.date, () => `${x.dateText} parsed to ${parsed}, not ${x.date}`);
    }
  },
  expected: () => false,
};

// ---- Tile slices ---------------------------------------------------------------------------

function tensorOfShape(shape: number[], dtype: (typeof DTYPES)[number]): TensorEntry {
  const width = dtypeWidth(dtype);
  const rows = shape.length === 0 ? 1 : shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const cols = shape.length === 0 ? 1 : shape[shape.length - 1];
  return {
    name: "t",
    dtype,
    shape,
    offsets: [0, rows * cols * width],
    layer: "t",
    sha256: "0".repeat(64),
    encodings: [{
      kind: "lossless",
      layout: { width, signMoved: false },
      tile: [Math.max(1, Math.min(rows, 4)), Math.max(1, Math.min(cols, 4))],
      chunks: [],
    }],
  } as TensorEntry;
}

function sliceText(rng: Rng, dim: number): string {
  const idx = () => {
    const v = pick(rng, [0, 1, dim, dim - 1, dim + 1, -1, -dim, -dim - 1, rng.int(dim + 3)]);
    return (rng.int(8) === 0 ? "0".repeat(rng.int(5)) : "") + String(v).replace(/^-0+/, "-");
  };
  switch (rng.int(8)) {
    case 0:
      return idx();
    case 1:
      return `${idx()}:`;
    case 2:
      return `:${idx()}`;
    case 3:
      return ":";
    case 4:
      return randomString(rng, 6, "0123456789:-, +.x");
    default:
      return `${idx()}:${idx()}`;
  }
}

/** A hand-written scanner for the slice grammar: the oracle of "matches exactly". */
function matchesGrammar(text: string): boolean {
  let i = 0;
  const index = () => {
    const start = i;
    if (text[i] === "-") i++;
    const digits = i;
    while (i < text.length && text[i] >= "0" && text[i] <= "9") i++;
    if (i === digits) {
      i = start;
      return false;
    }
    return true;
  };
  const first = index();
  if (i === text.length) return first;
  if (text[i] !== ":") return false;
  i++;
  index();
  return i === text.length;
}

interface SliceInput {
  shape: number[];
  dtype: (typeof DTYPES)[number];
  query: string;
}

/** selectTile: only bad_slice errors; an accepted selection matches the grammar and fits. */
export const sliceTarget: FuzzTarget<SliceInput> = {
  name: "slice",
  covers: "src/server/selection.ts selectTile, src/container/slice.ts parseSlice",
  generate(rng) {
    const dims = rng.int(5);
    const shape = Array.from({ length: dims }, () => pick(rng, [0, 1, 2, 3, 7, 16]));
    const g = shape.length === 0 ? [1] : shape;
    const params: string[] = [];
    if (rng.int(2)) {
      const n = rng.int(5) === 0 ? dims + 1 : rng.int(dims + 1);
      const parts = Array.from({ length: n }, (_, k) => sliceText(rng, g[k] ?? 1));
      params.push(`slice=${encodeURIComponent(parts.join(pick(rng, [",", ",", ", "])))}`);
    } else {
      const rows = g.slice(0, -1).reduce((a, b) => a * b, 1), cols = g[g.length - 1];
      if (rng.int(3)) params.push(`rows=${encodeURIComponent(sliceText(rng, rows))}`);
      if (rng.int(3)) params.push(`cols=${encodeURIComponent(sliceText(rng, cols))}`);
    }
    if (rng.int(10) === 0) params.push(pick(rng, ["rows=0:1", "slice=0", "cols=:", "x=1"]));
    if (rng.int(10) === 0) params.push(randomString(rng, 12));
    return { shape, dtype: pick(rng, DTYPES), query: params.join("&") };
  },
  run({ shape, dtype, query }) {
    const t = tensorOfShape(shape, dtype);
    const q = new URLSearchParams(query);
    const sel = selectTile(t, q);
    for (const name of ["rows", "cols"]) {
      const v = q.getAll(name);
      check(v.length <= 1, `${name} repeated yet accepted`);
      if (v.length) check(matchesGrammar(v[0]), `${name}=${JSON.stringify(v[0])} accepted`);
    }
    const slices = q.getAll("slice");
    check(slices.length <= 1, "slice repeated yet accepted");
    if (slices.length && slices[0] !== "") {
      for (const part of slices[0].split(",")) {
        check(matchesGrammar(part), `slice part ${JSON.stringify(part)} accepted`);
      }
    }
    if (sel === null) return;
    const width = dtypeWidth(dtype);
    const rows = shape.length === 0 ? 1 : shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const cols = shape.length === 0 ? 1 : shape[shape.length - 1];
    let area = 0, lastEnd = -1;
    for (const r of sel.rects) {
      check(
        0 <= r.r0 && r.r0 < r.r1 && r.r1 <= rows && 0 <= r.c0 && r.c0 < r.c1 && r.c1 <= cols,
        () => `rect ${JSON.stringify(r)} outside ${rows}x${cols}`,
      );
      check(r.r0 >= lastEnd, "rects overlap or are out of order");
      lastEnd = r.r1;
      area += (r.r1 - r.r0) * (r.c1 - r.c0);
    }
    check(area * width === sel.size, `rects hold ${area * width} bytes, size ${sel.size}`);
    const count = sel.shape.reduce((a, b) => a * b, 1);
    check(count * width === sel.size, `shape ${sel.shape} does not make ${sel.size} bytes`);
  },
  expected: (e) => e instanceof ContainerError && e.kind === "bad_slice",
};

// ---- Names and paths -------------------------------------------------------------------------

const NAME_ALPHABET = "aZ09._-/\\\u0000%:é ~";

/**
 * Store names and repo paths: only StoreError bad_name; no accepted name is a path, and no accepted
 * repo path leaves its repo (the routes target sends the same strings through the app's decoding).
 */
export const namesTarget: FuzzTarget<{ text: string }> = {
  name: "names",
  covers: "src/store/names.ts checkIdPart, checkBranch, checkRevision, checkRepoPath",
  generate(rng) {
    const base = pick(rng, [
      "stories260k",
      "main",
      "config.json",
      "a.b",
      "v1",
      "README.md",
      "text_encoder/model.safetensors",
      "refs/heads/main",
      "0123456789abcdef0123456789abcdef01234567",
    ]);
    const text = pick(rng, [
      () => base,
      () => pick(rng, HOSTILE_STRINGS),
      () => base + pick(rng, HOSTILE_STRINGS),
      () => pick(rng, HOSTILE_STRINGS) + "/" + base,
      () => randomString(rng, 12, NAME_ALPHABET),
      () => randomString(rng, 130, "ab./"),
      () => randomString(rng, 8),
    ])();
    return { text };
  },
  run({ text }) {
    const attempt = (f: () => string): string | null => {
      try {
        return f();
      } catch (e) {
        if (!(e instanceof StoreError && e.kind === "bad_name")) throw e;
        return null;
      }
    };
    const names = [
      attempt(() => checkIdPart(text, "org")),
      attempt(() => checkIdPart(text, "name")),
      attempt(() => checkBranch(text)),
    ];
    const revision = attempt(() => checkRevision(text));
    if (revision !== null && !text.startsWith("refs/heads/")) names.push(revision);
    for (const a of names) {
      if (a === null) continue;
      check(
        !a.includes("/") && !a.includes("\\") && !a.includes("\u0000") && a !== "." &&
          a !== ".." && a.length > 0,
        () => `name ${JSON.stringify(a)} accepted`,
      );
    }
    const path = attempt(() => checkRepoPath(text));
    if (path !== null) {
      const segments = path.split("/");
      check(
        // deno-lint-ignore no-control-regex
        !path.includes("\\") && !/[\x00-\x1f]/.test(path) &&
          segments.every((s) => s !== "" && s !== "." && s !== ".."),
        () => `repo path ${JSON.stringify(path)} accepted`,
      );
    }
  },
  expected: () => false,
};
