/**
 * Variant specs: the strings users write (`int8:g128`, `ternary:3`, `svd:energy=0.9`,
 * `auto:rmse=0.02`), parsed into options, and their canonical form, which names the variant.
 * Browser-safe.
 * @module
 */

/** int8 quantisation options. */
export interface Int8Spec {
  readonly kind: "int8";
  readonly scheme: "symmetric" | "asymmetric";
  /** Columns per scale group; 0 for one group per row. */
  readonly group: number;
  /** Scale dtype; F16 unless a scale falls outside its normal range, or `f32` asks for F32. */
  readonly scale: "auto" | "F32";
}

/** Down-cast options. */
export interface CastSpec {
  readonly kind: "cast";
  readonly dtype: "F16" | "BF16";
}

/** Ternary decomposition options. */
export interface TernarySpec {
  readonly kind: "ternary";
  readonly bases: number;
  /** Columns per scale group; 0 for one group per row. */
  readonly group: number;
  /** `greedy`: residual fitting and a least-squares refit; `joint`: then nearest-level passes. */
  readonly fit: "greedy" | "joint";
  readonly packing: "2bit" | "base3";
  readonly scale: "auto" | "F32";
}

/** Low-rank options: the rank comes from an energy share or a target compression ratio. */
export interface LowRankSpec {
  readonly kind: "lowrank";
  readonly energy: number | null;
  readonly ratio: number | null;
  readonly factor: "F16" | "BF16";
}

/** Sparse options: an absolute threshold, or the share of elements to keep. */
export interface SparseSpec {
  readonly kind: "sparse";
  readonly threshold: number | null;
  readonly keep: number | null;
}

/** Automatic selection under an error budget. */
export interface AutoSpec {
  readonly kind: "auto";
  readonly metric: "rmse" | "kl";
  readonly budget: number;
}

/** A parsed spec. */
export type VariantSpec = Int8Spec | CastSpec | TernarySpec | LowRankSpec | SparseSpec | AutoSpec;

/** A spec string that does not parse; the message says what was expected. */
export class VariantSpecError extends Error {
  /** Builds the error for `spec`. */
  constructor(spec: string, what: string) {
    super(`variant "${spec}": ${what}`);
    this.name = "VariantSpecError";
  }
}

const SPEC_HELP = "int8[:asym][:gN][:f32], fp16, bf16, ternary:N[:gN][:greedy][:base3][:f32], " +
  "svd:energy=E|svd:ratio=R[:bf16], sparse:T|sparse:keep=F, auto:rmse=B|auto:kl=B";

function positive(spec: string, text: string, what: string): number {
  const v = Number(text);
  if (!(text.length > 0 && Number.isFinite(v) && v > 0)) {
    throw new VariantSpecError(spec, `${what} must be a positive number: received "${text}"`);
  }
  return v;
}

function group(spec: string, text: string): number {
  const v = Number(text.slice(1));
  if (!(Number.isInteger(v) && v >= 1 && v <= 1 << 20)) {
    throw new VariantSpecError(spec, `group must be g1 to g1048576: received "${text}"`);
  }
  return v;
}

/**
 * Parses one spec.
 *
 * @example
 * ```ts
 * parseSpec("int8:g128"); // { kind: "int8", scheme: "symmetric", group: 128, scale: "auto" }
 * specName(parseSpec("ternary:3:joint")); // "ternary:3"
 * ```
 */
export function parseSpec(spec: string): VariantSpec {
  const [head, ...opts] = spec.trim().split(":");
  const bad = (what: string): never => {
    throw new VariantSpecError(spec, `${what} (specs: ${SPEC_HELP})`);
  };
  const seen = new Set<string>();
  for (const o of opts) {
    const key = o.replace(/=.*$/, "").replace(/^g\d+$/, "g");
    if (seen.has(key)) bad(`option "${o}" is given twice`);
    seen.add(key);
  }
  switch (head) {
    case "int8": {
      let scheme: Int8Spec["scheme"] = "symmetric", g = 0, scale: Int8Spec["scale"] = "auto";
      for (const o of opts) {
        if (o === "asym") scheme = "asymmetric";
        else if (o === "sym") scheme = "symmetric";
        else if (/^g\d+$/.test(o)) g = group(spec, o);
        else if (o === "f32") scale = "F32";
        else bad(`unknown int8 option "${o}"`);
      }
      return { kind: "int8", scheme, group: g, scale };
    }
    case "fp16":
    case "bf16":
      if (opts.length) bad(`${head} takes no options`);
      return { kind: "cast", dtype: head === "fp16" ? "F16" : "BF16" };
    case "ternary": {
      const bases = Number(opts[0]);
      if (!(Number.isInteger(bases) && bases >= 1 && bases <= 4)) {
        bad(`ternary needs a base count from 1 to 4: received "${opts[0] ?? ""}"`);
      }
      let g = 0, fit: TernarySpec["fit"] = "joint", packing: TernarySpec["packing"] = "2bit";
      let scale: TernarySpec["scale"] = "auto";
      for (const o of opts.slice(1)) {
        if (/^g\d+$/.test(o)) g = group(spec, o);
        else if (o === "greedy" || o === "joint") fit = o;
        else if (o === "base3" || o === "2bit") packing = o;
        else if (o === "f32") scale = "F32";
        else bad(`unknown ternary option "${o}"`);
      }
      return { kind: "ternary", bases, group: g, fit, packing, scale };
    }
    case "svd": {
      let energy: number | null = null, ratio: number | null = null;
      let factor: LowRankSpec["factor"] = "F16";
      for (const o of opts) {
        if (o.startsWith("energy=")) energy = positive(spec, o.slice(7), "energy");
        else if (o.startsWith("ratio=")) ratio = positive(spec, o.slice(6), "ratio");
        else if (o === "bf16" || o === "fp16") factor = o === "bf16" ? "BF16" : "F16";
        else bad(`unknown svd option "${o}"`);
      }
      if ((energy === null) === (ratio === null)) bad("svd needs exactly one of energy= or ratio=");
      if (energy !== null && energy > 1) bad("energy must be at most 1");
      return { kind: "lowrank", energy, ratio, factor };
    }
    case "sparse": {
      if (opts.length !== 1) bad("sparse needs one threshold T or keep=F");
      if (opts[0].startsWith("keep=")) {
        const keep = positive(spec, opts[0].slice(5), "keep");
        if (keep > 1) bad("keep must be at most 1");
        return { kind: "sparse", threshold: null, keep };
      }
      return { kind: "sparse", threshold: positive(spec, opts[0], "threshold"), keep: null };
    }
    case "auto": {
      const m = /^(rmse|kl)=(.+)$/.exec(opts[0] ?? "");
      if (!m || opts.length !== 1) bad("auto needs one budget, rmse=B or kl=B");
      return {
        kind: "auto",
        metric: m![1] as "rmse" | "kl",
        budget: positive(spec, m![2], "budget"),
      };
    }
    default:
      return bad(`unknown kind "${head}"`);
  }
}

/** The canonical name of a spec: defaults left out, options in a fixed order. */
export function specName(s: VariantSpec): string {
  switch (s.kind) {
    case "int8":
      return [
        "int8",
        s.scheme === "asymmetric" ? "asym" : "",
        s.group ? `g${s.group}` : "",
        s.scale === "F32" ? "f32" : "",
      ].filter(Boolean).join(":");
    case "cast":
      return s.dtype === "F16" ? "fp16" : "bf16";
    case "ternary":
      return [
        "ternary",
        String(s.bases),
        s.group ? `g${s.group}` : "",
        s.fit === "greedy" ? "greedy" : "",
        s.packing === "base3" ? "base3" : "",
        s.scale === "F32" ? "f32" : "",
      ].filter(Boolean).join(":");
    case "lowrank":
      return `svd:${s.energy !== null ? `energy=${s.energy}` : `ratio=${s.ratio}`}${
        s.factor === "BF16" ? ":bf16" : ""
      }`;
    case "sparse":
      return s.threshold !== null ? `sparse:${s.threshold}` : `sparse:keep=${s.keep}`;
    case "auto":
      return `auto:${s.metric}=${s.budget}`;
  }
}

/** Parses a comma-separated list of specs; names must be distinct. */
export function parseSpecList(list: string): VariantSpec[] {
  const specs = list.split(",").filter((s) => s.trim() !== "").map(parseSpec);
  const names = specs.map(specName);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new VariantSpecError(dup, "is listed twice");
  if (specs.length === 0) throw new VariantSpecError(list, "no variant given");
  return specs;
}
