/**
 * What the container-level studies (`grouping_study.ts`, `prior_study.ts`, `cm_study.ts`,
 * `xz_study.ts`) share: the folder they keep inputs and containers in, the quantised inputs they
 * price by default, how an input is found or made, and how a peer compressor's size is taken.
 * @module
 */
import { derivedInput, type Recipe } from "./inputs/quantised.ts";

/** Where the studies keep the inputs and the `best` containers packed from them. */
export const STUDY_DIR = Deno.env.get("STUDY_DIR") ?? "/tmp/codec5-study";

/** The quantised inputs (made by `inputs/quantised.ts`) the studies price by default. */
export const STUDY_INPUTS: readonly string[] = [
  "stories260k.e4m3",
  "stories260k.e5m2",
  "stories260k.int8",
  "ppocrv4.e4m3",
  "ppocrv4.e5m2",
  "ppocrv4.int8",
  "human-fp32.e4m3",
  "human-fp32.e5m2",
  "human-fp32.int8",
  "stories260k.int4u8",
];

const DATA = new URL("../../shared/data/", import.meta.url).pathname;

/**
 * The safetensors path of study input `name` (`<model>.<recipe>`): a shared float file as it is,
 * a quantised one made from `<model>.fp32` into `dir` the first time and reused after.
 */
export async function studyInput(name: string, dir = STUDY_DIR): Promise<string> {
  const [model, recipe] = name.split(".");
  if (["bf16", "fp16", "fp32"].includes(recipe)) return `${DATA}/${name}.safetensors`;
  const path = `${dir}/${name}.safetensors`;
  try {
    await Deno.stat(path);
    return path;
  } catch { /* made below */ }
  await Deno.mkdir(dir, { recursive: true });
  const src = await Deno.readFile(`${DATA}/${model}.fp32.safetensors`);
  await Deno.writeFile(path, (await derivedInput(model, src, recipe as Recipe)).bytes);
  return path;
}

/** Bytes `cmd args` writes for `bytes` on its stdin (e.g. `xz ["-6", "-T1", "-c"]`). */
export async function compressedSize(
  cmd: string,
  args: string[],
  bytes: Uint8Array,
): Promise<number> {
  const p = new Deno.Command(cmd, { args, stdin: "piped", stdout: "piped" }).spawn();
  const w = p.stdin.getWriter();
  const done = w.write(bytes).then(() => w.close());
  const out = await p.output();
  await done;
  return out.stdout.length;
}
