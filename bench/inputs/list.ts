/**
 * The bench's inputs: the shared float files, then the quantised files made from the FP32 ones
 * (bench/inputs/quantised.ts), written to a temporary directory for the run.
 * @module
 */
import { stem } from "../config.ts";
import type { InputKind } from "../flags.ts";
import { PEERS } from "../peers.ts";
import { derivedInput, type Recipe, RECIPES } from "./quantised.ts";

/** One input of the bench. */
export interface Input {
  /** `stories260k.bf16`, `ppocrv4.e4m3`, ... */
  readonly name: string;
  /** Its safetensors file. */
  readonly path: string;
  /** Which flags apply. */
  readonly kind: InputKind;
}

/** The models the quantised inputs are made from, in the order. */
const MODELS = ["stories260k", "ppocrv4", "human-fp32"];

const KIND: Record<Recipe, InputKind> = {
  e4m3: "fp8",
  e5m2: "fp8",
  int8: "int8",
  gptq4: "int4",
  int4u8: "int4",
};

/**
 * Every input: the `*.safetensors` of `dataDir` (the order first), then, with `quantised`,
 * each recipe of each model whose `<model>.fp32.safetensors` is there, written into `dir`. `only`
 * keeps the named inputs (and makes only those).
 */
export async function benchInputs(
  dataDir: string,
  dir: string,
  quantised: boolean,
  only: string[] | null,
): Promise<Input[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dataDir)) {
    if (e.isFile && e.name.endsWith(".safetensors")) names.push(stem(e.name));
  }
  const order = Object.keys(PEERS);
  const rank = (n: string) => (order.includes(n) ? order.indexOf(n) : order.length);
  names.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  const wanted = (name: string) => !only || only.includes(name);
  const inputs: Input[] = names.filter(wanted).map((name) => ({
    name,
    path: `${dataDir}/${name}.safetensors`,
    kind: "float",
  }));
  if (!quantised) return inputs;
  for (const model of MODELS) {
    if (!names.includes(`${model}.fp32`)) continue;
    const recipes = RECIPES.filter((r) => wanted(`${model}.${r}`));
    if (recipes.length === 0) continue;
    const source = await Deno.readFile(`${dataDir}/${model}.fp32.safetensors`);
    for (const recipe of recipes) {
      const d = await derivedInput(model, source, recipe);
      const path = `${dir}/${d.name}.safetensors`;
      await Deno.writeFile(path, d.bytes);
      inputs.push({ name: d.name, path, kind: KIND[recipe] });
    }
  }
  return inputs;
}
