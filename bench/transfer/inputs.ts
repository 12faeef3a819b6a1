/**
 * The files `bench:transfer` measures, made ready in the run's folder: every safetensors file of
 * the data folder and the synthetic many-tensor model (`synthetic_model.ts`), each packed with the
 * CLI (`pack --mode fast`, hard-linked into the models folder of each Tessera server, `--mode best`
 * beside it for the unpack comparison), compressed with `zstd -3` for the zstd baseline, linked into the static
 * server's folder, and inspected (`inspect --json`) for its first layer in load order.
 *
 * Folder layout under `work`: `fast/<stem>.tsr`, linked as `models/<org>/<name>/main/model.tsr` and
 * `models-warm/…` (the folder layout each server imports into its own store on start and then
 * removes, `src/store/legacy_import.ts`; one folder per server, since a server locks its store),
 * `static/<org>/<name>/model.safetensors`, `best/<stem>.tsr`,
 * `zst/<stem>.zst`, `src/` (the synthetic model).
 * @module
 */
import { fileSha256 } from "./file_sha256.ts";
import { timed } from "./processes.ts";
import { buildSyntheticModel, type SyntheticModel } from "./synthetic_model.ts";

/** The org of every bench model. */
export const ORG = "bench";
/** The models folders under the run's folder: the cold server's, then the warm server's. */
export const MODEL_FOLDERS = ["models", "models-warm"] as const;
/** The stem of the synthetic many-tensor model. */
export const SYNTHETIC_STEM = "many-tensor.bf16";

/** A packed container. */
export interface Packed {
  /** Path. */
  readonly path: string;
  /** Size in bytes. */
  readonly size: number;
  /** Wall time of the `pack` process, ms. */
  readonly packMs: number;
}

/** One measured file, ready. */
export interface BenchFile {
  /** File name without `.safetensors`; also the model name. */
  readonly stem: string;
  /** Model id, `bench/<stem>`. */
  readonly id: string;
  /** The original safetensors file. */
  readonly source: string;
  /** Its size in bytes. */
  readonly size: number;
  /** Its SHA-256. */
  readonly sha256: string;
  /** Tensors in it. */
  readonly tensors: number;
  /** Bytes of all tensors (the file without its header). */
  readonly tensorBytes: number;
  /** The `fast` container the server serves. */
  readonly fast: Packed;
  /** The `best` container (unpack only), when packed. */
  readonly best: Packed | null;
  /** `zstd -3` of the original, when zstd is installed. */
  readonly zstd: { readonly path: string; readonly size: number } | null;
  /** The first layer in load order, with the `fast` container's stored bytes of its tensors. */
  readonly firstLayer: {
    readonly key: string;
    readonly tensors: number;
    readonly rawBytes: number;
    readonly storedBytes: number;
  };
  /** How the synthetic model was built; absent for the data files. */
  readonly synthetic?: Omit<SyntheticModel, "path">;
}

/** Options for {@link prepareInputs}. */
export interface InputOptions {
  /** The repository (cwd of the CLI). */
  readonly repo: string;
  /** The data folder. */
  readonly dataDir: string;
  /** The run's folder. */
  readonly work: string;
  /** Stems to measure (data files and {@link SYNTHETIC_STEM}). */
  readonly stems: readonly string[];
  /** Pack `best` containers too. */
  readonly best: boolean;
  /** Whether `zstd` is installed. */
  readonly zstd: boolean;
  /** Progress messages. */
  readonly log: (msg: string) => void;
}

/** Stems of the data folder's safetensors files, smallest first, and the synthetic model's. */
export async function availableStems(dataDir: string): Promise<string[]> {
  const files: [string, number][] = [];
  for await (const e of Deno.readDir(dataDir)) {
    if (e.isFile && e.name.endsWith(".safetensors")) {
      files.push([
        e.name.slice(0, -".safetensors".length),
        (await Deno.stat(`${dataDir}/${e.name}`)).size,
      ]);
    }
  }
  files.sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
  return [...files.map(([s]) => s), SYNTHETIC_STEM];
}

/** `deno run -A src/cli/main.ts ...args` as [cmd, args]. */
export function cli(repo: string, ...args: string[]): [string, string[]] {
  return [Deno.execPath(), ["run", "-A", `${repo}/src/cli/main.ts`, ...args]];
}

async function pack(repo: string, src: string, out: string, mode: string): Promise<Packed> {
  const [cmd, args] = cli(repo, "pack", src, out, "--mode", mode);
  const r = await timed(cmd, args, { cwd: repo });
  if (r.code !== 0) throw new Error(`pack ${src} --mode ${mode} failed:\n${r.stderr.slice(-800)}`);
  return { path: out, size: (await Deno.stat(out)).size, packMs: r.ms };
}

interface InspectJson {
  layers: { key: string; tensors: number; rawBytes: number; storedBytes: number }[];
  tensors: unknown[];
}

async function inspect(repo: string, container: string): Promise<InspectJson> {
  const [cmd, args] = cli(repo, "inspect", container, "--json");
  const r = await timed(cmd, args, { cwd: repo });
  if (r.code !== 0) throw new Error(`inspect ${container} failed:\n${r.stderr.slice(-800)}`);
  return JSON.parse(r.stdout) as InspectJson;
}

function withoutPath({ path: _path, ...rest }: SyntheticModel): Omit<SyntheticModel, "path"> {
  return rest;
}

/** Builds, packs, compresses and links every file of `options.stems`. */
export async function prepareInputs(options: InputOptions): Promise<BenchFile[]> {
  const { repo, work, log } = options;
  for (const d of ["fast", ...MODEL_FOLDERS, "static", "best", "zst", "src"]) {
    await Deno.mkdir(`${work}/${d}`, { recursive: true });
  }
  const out: BenchFile[] = [];
  for (const stem of options.stems) {
    let source = `${options.dataDir}/${stem}.safetensors`;
    let synthetic: SyntheticModel | undefined;
    if (stem === SYNTHETIC_STEM) {
      log(`building the synthetic many-tensor model`);
      synthetic = await buildSyntheticModel({
        dataDir: options.dataDir,
        out: `${work}/src/${stem}.safetensors`,
      });
      source = synthetic.path;
    }
    const size = (await Deno.stat(source)).size;
    const sha256 = synthetic?.sha256 ?? await fileSha256(source);
    log(
      `${stem}: pack --mode fast${options.best ? ", best" : ""}${options.zstd ? ", zstd -3" : ""}`,
    );
    const fast = await pack(repo, source, `${work}/fast/${stem}.tsr`, "fast");
    for (const folder of MODEL_FOLDERS) {
      const modelDir = `${work}/${folder}/${ORG}/${stem}/main`;
      await Deno.mkdir(modelDir, { recursive: true });
      await Deno.link(fast.path, `${modelDir}/model.tsr`);
    }
    const best = options.best ? await pack(repo, source, `${work}/best/${stem}.tsr`, "best") : null;
    let zstd: BenchFile["zstd"] = null;
    if (options.zstd) {
      const path = `${work}/zst/${stem}.zst`;
      const r = await timed("zstd", ["-3", "-T1", "-q", "-f", source, "-o", path]);
      if (r.code !== 0) throw new Error(`zstd -3 ${source} failed: ${r.stderr}`);
      zstd = { path, size: (await Deno.stat(path)).size };
    }
    await Deno.mkdir(`${work}/static/${ORG}/${stem}`, { recursive: true });
    await Deno.symlink(source, `${work}/static/${ORG}/${stem}/model.safetensors`);
    const info = await inspect(repo, fast.path);
    const first = info.layers[0];
    out.push({
      stem,
      id: `${ORG}/${stem}`,
      source,
      size,
      sha256,
      tensors: info.tensors.length,
      tensorBytes: info.layers.reduce((n, l) => n + l.rawBytes, 0),
      fast,
      best,
      zstd,
      firstLayer: {
        key: first.key,
        tensors: first.tensors,
        rawBytes: first.rawBytes,
        storedBytes: first.storedBytes,
      },
      ...(synthetic ? { synthetic: withoutPath(synthetic) } : {}),
    });
  }
  return out;
}
