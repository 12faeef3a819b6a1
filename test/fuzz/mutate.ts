/**
 * Mutators: byte-level (AFL-style flips, interesting values, inserts, deletes, splices) and
 * structure-aware JSON edits (one member or element at a time: a boundary number, a hostile
 * string, a removed, added, repeated or renamed member), all driven by a seeded {@link Rng}.
 * @module
 */
import type { Rng } from "../codec/prng.ts";

const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff, 0x10, 0x20, 0x40];
const INTERESTING_32 = [
  0,
  1,
  2,
  0x7f,
  0x80,
  0xff,
  0x100,
  0x7fff,
  0x8000,
  0xffff,
  0x10000,
  0x7fffffff,
  0x80000000,
  0xfffffffe,
  0xffffffff,
  1 << 28,
  (1 << 28) + 1,
];

/** A random element of `list`. */
export function pick<T>(rng: Rng, list: readonly T[]): T {
  return list[rng.int(list.length)];
}

/** 1 plus a geometric count: usually one mutation, sometimes a handful. */
export function mutationCount(rng: Rng, max = 8): number {
  let n = 1;
  while (n < max && rng.float() < 0.35) n++;
  return n;
}

/**
 * `bytes` with one to a few byte-level mutations; `donors` are other inputs to splice from.
 * Mutations may focus on `[focusStart, focusEnd)` (a region worth hitting, such as a plane table).
 *
 * @example
 * ```ts
 * mutateBytes(new Rng(1), new Uint8Array(16)); // 16 ± a few bytes, some changed
 * ```
 */
export function mutateBytes(
  rng: Rng,
  input: Uint8Array,
  donors: readonly Uint8Array[] = [],
  focus?: readonly [number, number],
): Uint8Array {
  let b: Uint8Array = input.slice();
  const n = mutationCount(rng);
  for (let k = 0; k < n; k++) {
    const [lo, hi] = focus && rng.float() < 0.6
      ? [Math.min(focus[0], b.length), Math.min(focus[1], b.length)]
      : [0, b.length];
    const at = () => (hi > lo ? lo + rng.int(hi - lo) : 0);
    switch (rng.int(13)) {
      case 0: // flip one bit
        if (b.length) b[at()] ^= 1 << rng.int(8);
        break;
      case 1: // random byte
        if (b.length) b[at()] = rng.int(256);
        break;
      case 2: // interesting byte
        if (b.length) b[at()] = pick(rng, INTERESTING_8);
        break;
      case 3: { // interesting u32 (or u16), either endianness
        if (b.length < 4) break;
        const i = Math.min(at(), b.length - 4), v = pick(rng, INTERESTING_32);
        const view = new DataView(b.buffer, b.byteOffset, b.length);
        if (rng.int(3) === 0) view.setUint16(i, v & 0xffff, rng.int(2) === 0);
        else view.setUint32(i, v >>> 0, rng.int(4) !== 0);
        break;
      }
      case 4: { // small add or subtract
        if (!b.length) break;
        const i = at();
        b[i] = (b[i] + (rng.int(2) ? 1 : -1) * (1 + rng.int(16))) & 0xff;
        break;
      }
      case 5: { // delete a run
        if (!b.length) break;
        const i = at(), len = 1 + rng.int(Math.min(64, b.length - i));
        b = concat(b.subarray(0, i), b.subarray(i + len));
        break;
      }
      case 6: { // insert random bytes
        const i = at(), ins = rng.bytes(1 + rng.int(16));
        b = concat(b.subarray(0, i), ins, b.subarray(i));
        break;
      }
      case 7: { // duplicate a run in place
        if (!b.length) break;
        const i = at(), len = 1 + rng.int(Math.min(64, b.length - i));
        b = concat(b.subarray(0, i + len), b.subarray(i, i + len), b.subarray(i + len));
        break;
      }
      case 8: // truncate
        b = b.slice(0, at());
        break;
      case 9: { // overwrite a run with a copy of another run
        if (b.length < 2) break;
        const from = rng.int(b.length), to = at();
        const len = 1 + rng.int(Math.min(32, b.length - Math.max(from, to)));
        b.copyWithin(to, from, from + len);
        break;
      }
      case 10: { // splice with a donor
        if (!donors.length) break;
        const d = pick(rng, donors);
        if (!d.length) break;
        const i = at(), j = rng.int(d.length);
        b = concat(b.subarray(0, i), d.subarray(j, j + 1 + rng.int(Math.min(256, d.length - j))));
        break;
      }
      case 11: { // fill a run with one value
        if (!b.length) break;
        const i = at(), len = 1 + rng.int(Math.min(64, b.length - i));
        b.fill(pick(rng, INTERESTING_8), i, i + len);
        break;
      }
      default: // append random bytes
        b = concat(b, rng.bytes(1 + rng.int(16)));
    }
  }
  return b;
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Numbers at the edges of what the formats allow. */
export const BOUNDARY_NUMBERS: readonly number[] = [
  0,
  -0,
  1,
  -1,
  2,
  3,
  7,
  8,
  63,
  64,
  65,
  4095,
  4096,
  4097,
  0xffff,
  0x7fffffff,
  0x80000000,
  0xffffffff,
  2 ** 32,
  2 ** 28,
  2 ** 28 + 1,
  2 ** 30,
  2 ** 53 - 1,
  2 ** 53,
  2 ** 53 + 2,
  1e308,
  0.5,
  -0.5,
  1e-7,
];

/** Strings that have broken parsers and file systems before. */
export const HOSTILE_STRINGS: readonly string[] = [
  "",
  "\u0000",
  "a\u0000b",
  "..",
  ".",
  "../../etc/passwd",
  "a/b",
  "a\\b",
  "__proto__",
  "constructor",
  "toString",
  "__metadata__",
  "\ud800",
  "\udfff\ud800",
  "é",
  "✓",
  "\u202e",
  " ",
  "x".repeat(300),
  "%2F",
  "%00",
  "BF16",
  "F32",
  "lossless",
  "model.layers.0",
];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A path to a node of a JSON value: member names and element indices. */
type Path = (string | number)[];

function paths(v: Json, prefix: Path = [], out: Path[] = [], limit = 4096): Path[] {
  if (out.length >= limit) return out;
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...prefix, i], out, limit));
  else if (v && typeof v === "object") {
    for (const k of Object.keys(v)) paths(v[k], [...prefix, k], out, limit);
  }
  return out;
}

function getAt(v: Json, p: Path): Json {
  let x: Json = v;
  for (const k of p) x = (x as Record<string | number, Json>)[k];
  return x;
}

/** Sets member `key` as data: a plain store to `"__proto__"` would change the prototype. */
function define(obj: Record<string | number, Json>, key: string | number, value: Json): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function setAt(v: Json, p: Path, value: Json | undefined): Json {
  if (p.length === 0) return value === undefined ? null : value;
  const parent = getAt(v, p.slice(0, -1)) as Record<string | number, Json>;
  const k = p[p.length - 1];
  if (value === undefined) {
    if (Array.isArray(parent)) parent.splice(k as number, 1);
    else delete parent[k];
  } else if (Array.isArray(parent)) parent[k as number] = value;
  else define(parent, k, value);
  return v;
}

function randomScalar(rng: Rng, old: Json): Json {
  switch (rng.int(7)) {
    case 0:
      return pick(rng, BOUNDARY_NUMBERS);
    case 1:
      return typeof old === "number" ? old + pick(rng, [-1, 1, -64, 64, 4096]) : rng.int(100);
    case 2:
      return pick(rng, HOSTILE_STRINGS);
    case 3:
      return pick(rng, [null, true, false]);
    case 4:
      return typeof old === "string" && old.length
        ? old.slice(0, rng.int(old.length)) + pick(rng, HOSTILE_STRINGS)
        : rng.int(2)
        ? []
        : {};
    case 5:
      return typeof old === "number" ? -old : JSON.stringify(old) ?? "";
    default:
      return typeof old === "number" ? Math.floor(old * pick(rng, [2, 0.5, 1000])) : 0;
  }
}

/**
 * A JSON text, parsed and changed in one to a few places (a member or element replaced, removed,
 * added or repeated, a member renamed), then serialised; occasionally also edited as text (a
 * member name repeated, a number rewritten as `1e2` or `-0`), which JSON.stringify cannot produce.
 *
 * @example
 * ```ts
 * mutateJson(new Rng(1), '{"a":[1,2]}'); // e.g. '{"a":[1,4294967295]}'
 * ```
 */
export function mutateJson(rng: Rng, text: string): string {
  let v: Json;
  try {
    v = JSON.parse(text);
  } catch {
    return text;
  }
  const n = mutationCount(rng, 4);
  for (let k = 0; k < n; k++) {
    const all = paths(v);
    const p = pick(rng, all);
    const node = getAt(v, p);
    const parentPath = p.slice(0, -1);
    const parent = p.length ? getAt(v, parentPath) : null;
    switch (rng.int(8)) {
      case 0:
      case 1:
      case 2: // replace a node with a scalar (numbers most often: offsets, lengths, shapes)
        v = setAt(v, p, randomScalar(rng, node));
        break;
      case 3: // remove a member or element
        if (p.length) v = setAt(v, p, undefined);
        break;
      case 4: // add a member or element
        if (Array.isArray(node)) node.push(node.length ? structuredClone(node[0]) : 0);
        else if (node && typeof node === "object") define(node, pick(rng, HOSTILE_STRINGS), 0);
        break;
      case 5: // rename a member
        if (parent && !Array.isArray(parent) && typeof parent === "object") {
          const key = p[p.length - 1] as string;
          const value = parent[key];
          delete parent[key];
          define(parent, pick(rng, HOSTILE_STRINGS) + (rng.int(2) ? key : ""), value);
        }
        break;
      case 6: { // copy another node here
        const other = getAt(v, pick(rng, all));
        if (p.length) v = setAt(v, p, structuredClone(other));
        break;
      }
      default: // swap two elements of an array
        if (Array.isArray(node) && node.length >= 2) {
          const i = rng.int(node.length), j = rng.int(node.length);
          [node[i], node[j]] = [node[j], node[i]];
        }
    }
  }
  let out = JSON.stringify(v) ?? "null";
  if (rng.int(6) === 0) out = textEdit(rng, out);
  return out;
}

/** Edits JSON text where JSON.stringify cannot: repeated members, number spellings, nesting. */
function textEdit(rng: Rng, text: string): string {
  switch (rng.int(4)) {
    case 0: { // repeat the first member of some object
      const m = /\{("(?:[^"\\]|\\.)*":(?:[^,{}[\]]+|"(?:[^"\\]|\\.)*"))/g;
      const all = [...text.matchAll(m)];
      if (!all.length) return text;
      const hit = pick(rng, all);
      const at = hit.index! + hit[0].length;
      return text.slice(0, at) + "," + hit[1] + text.slice(at);
    }
    case 1: { // a number written another way
      const nums = [...text.matchAll(/(?<=[:,[])\d+(?=[,\]}])/g)];
      if (!nums.length) return text;
      const hit = pick(rng, nums);
      const alt = pick(rng, [`${hit[0]}.0`, `${hit[0]}e0`, `0${hit[0]}`, `-0`, `${hit[0]} `]);
      return text.slice(0, hit.index!) + alt + text.slice(hit.index! + hit[0].length);
    }
    case 2: // deep nesting
      return "[".repeat(100 + rng.int(2000)) + text;
    default: // whitespace and a byte-order mark
      return pick(rng, ["\ufeff", " ", "\t", "\n"]) + text + pick(rng, ["", " ", "\n", "x"]);
  }
}

/** A random string over `alphabet`, or over all of Latin-1 when none is given. */
export function randomString(rng: Rng, maxLength: number, alphabet?: string): string {
  const n = rng.int(maxLength + 1);
  let s = "";
  for (let i = 0; i < n; i++) {
    s += alphabet ? alphabet[rng.int(alphabet.length)] : String.fromCharCode(rng.int(256));
  }
  return s;
}
