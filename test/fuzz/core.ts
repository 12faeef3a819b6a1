/**
 * The fuzzer's core: what a target is, how one case's input is derived from the run's seed (so
 * that any case can be regenerated alone), what counts as a finding, and how inputs are saved.
 * @module
 */
import { Rng } from "../codec/prng.ts";

/**
 * One parser or decoder under fuzz. `generate` makes a case's input from its own generator (from
 * the corpus, mutated, or random bytes); `run` feeds it to the code under test and throws an
 * {@link InvariantError} when a property fails. Any other error that `expected` does not accept
 * is a finding too: the documented error classes are the only ones allowed out.
 */
export interface FuzzTarget<I = unknown> {
  /** Name in summaries, findings and `--target`. */
  readonly name: string;
  /** What it feeds, for the summary. */
  readonly covers: string;
  /**
   * Time share relative to the others (default 1): targets whose cases are slow and reach deep
   * (whole containers, routes) get more time than parsers that run 100,000 cases a second.
   */
  readonly weight?: number;
  /** Builds the corpus; called once per process before any case. */
  setup?(): Promise<void>;
  /** Frees what setup made (temporary folders, servers). */
  teardown?(): Promise<void>;
  /** The input of one case. */
  generate(rng: Rng): I;
  /** Runs one case; resolves when the code under test accepted or refused the input properly. */
  run(input: I): void | Promise<void>;
  /** Whether `e`, thrown by the code under test, is a documented refusal. */
  expected(e: unknown): boolean;
}

/** A property of a successful (or refused) run that does not hold. */
export class InvariantError extends Error {
  /** Builds the error; `message` says what was expected and what happened. */
  constructor(message: string) {
    super(message);
    this.name = "InvariantError";
  }
}

/** Throws an {@link InvariantError} with `message` unless `ok`. */
export function check(ok: boolean, message: string | (() => string)): asserts ok {
  if (!ok) throw new InvariantError(typeof message === "string" ? message : message());
}

/** Whether two byte arrays hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The generator of case `index` of `target` in a run seeded `seed`: a hash of the three, so case
 * k is the same input whatever ran before it, and a crash can be replayed from its number.
 */
export function caseRng(seed: number, target: string, index: number): Rng {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < target.length; i++) h = Math.imul(h ^ target.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (index >>> 0), 0x85ebca6b);
  h = Math.imul(h ^ Math.floor(index / 2 ** 32), 0xc2b2ae35);
  h ^= h >>> 16;
  return new Rng(h >>> 0);
}

/** A case whose run failed: what it was and why. */
export interface Finding {
  /** Target name. */
  readonly target: string;
  /** Seed of the run. */
  readonly seed: number;
  /** Case number. */
  readonly index: number;
  /** `invariant`, `unexpected_error` (an undocumented error class), `crash` or `hang`. */
  readonly kind: "invariant" | "unexpected_error" | "crash" | "hang";
  /** What went wrong. */
  readonly message: string;
  /** The input, in the JSON form of {@link encodeInput}. */
  readonly input: unknown;
}

/** JSON of an input: byte arrays become `{"$bytes": base64}`, other values stay as they are. */
export function encodeInput(input: unknown): unknown {
  return JSON.parse(JSON.stringify(input, (_k, v) => {
    if (v instanceof Uint8Array) return { $bytes: base64(v) };
    if (typeof v === "number" && !Number.isFinite(v)) return { $number: String(v) };
    return v;
  }));
}

/** The input back from {@link encodeInput}'s JSON. */
export function decodeInput(json: unknown): unknown {
  return JSON.parse(JSON.stringify(json), (_k, v) => {
    if (v && typeof v === "object" && typeof v.$bytes === "string") return unbase64(v.$bytes);
    if (v && typeof v === "object" && typeof v.$number === "string") return Number(v.$number);
    return v;
  });
}

function base64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) {
    s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function unbase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Where findings are kept and replayed from by `test/fuzz/replay_test.ts`;
 * `TESSERA_FUZZ_FINDINGS` moves it (the supervisor's own test).
 */
export const FINDINGS_DIR: URL = Deno.env.get("TESSERA_FUZZ_FINDINGS")
  ? new URL(`file://${Deno.env.get("TESSERA_FUZZ_FINDINGS")!.replace(/\/?$/, "/")}`)
  : new URL("../fixtures/fuzz/", import.meta.url);

/**
 * Saves `f` as `test/fixtures/fuzz/<target>-<kind>-<seed>-<index>.json`; returns the path. The
 * name is unique per case, so saving the same finding twice writes one file.
 */
export async function saveFinding(f: Finding): Promise<string> {
  await Deno.mkdir(FINDINGS_DIR, { recursive: true });
  const path = new URL(`${f.target}-${f.kind}-${f.seed}-${f.index}.json`, FINDINGS_DIR).pathname;
  await Deno.writeTextFile(path, JSON.stringify(f, null, 1) + "\n");
  return path;
}

/**
 * Runs one case: generate, run, and classify the outcome. Returns null when the target accepted
 * or properly refused the input, else the finding's kind and message.
 */
export async function runCase<I>(
  target: FuzzTarget<I>,
  input: I,
): Promise<{ kind: "invariant" | "unexpected_error"; message: string } | null> {
  try {
    const r = target.run(input);
    if (r instanceof Promise) await r;
    return null;
  } catch (e) {
    if (e instanceof InvariantError) return { kind: "invariant", message: e.message };
    if (target.expected(e)) return null;
    const err = e as Error;
    return {
      kind: "unexpected_error",
      message: `${err?.name ?? typeof e}: ${err?.message ?? String(e)}\n${err?.stack ?? ""}`,
    };
  }
}
