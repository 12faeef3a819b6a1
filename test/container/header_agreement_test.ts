/**
 * The index must agree with the stored original header: an index rewritten with its head SHA-256
 * recomputed passes every index rule, but names, dtypes, shapes, offsets or metadata that differ
 * from the original header make openContainer refuse it (`header_mismatch`), and `verify` says so.
 * A damaged stored header, on the other hand, fails only the reads that need it.
 */
import assert from "node:assert/strict";
import { ContainerError } from "../../src/container/errors.ts";
import { decodeHead, HEAD_BYTES } from "../../src/container/format.ts";
import {
  checkHeaderAgreement,
  strictHeaderAgreement,
} from "../../src/container/header_agreement.ts";
import { type Index, parseIndex } from "../../src/container/index_schema.ts";
import { readOriginalHeader, readRegion } from "../../src/container/read.ts";
import { verifyContainer } from "../../src/container/verify.ts";
import { buildSafetensors } from "../safetensors/fixture.ts";
import {
  editIndex,
  isContainerError,
  openBytes,
  packBytes,
  sourceTensorBytes,
  withTempDir,
} from "../helpers/container.ts";

type Json = Record<string, unknown>;
type Tensor = { name: string; dtype: string; shape: number[]; layer: string; offsets: number[] };

const SOURCE = buildSafetensors([
  { name: "model.embed_tokens.weight", dtype: "BF16", shape: [8, 16] },
  { name: "model.layers.0.mlp.weight", dtype: "F16", shape: [16] },
  { name: "model.layers.0.norm.weight", dtype: "F16", shape: [16] },
  { name: "model.layers.1.norm.weight", dtype: "F32", shape: [4] },
], { format: "pt" });

const tensors = (j: Json) => j.tensors as Tensor[];

/** Renames tensor `i` to `name`, keeping layers consistent so that the index stays valid. */
function rename(i: number, name: string, layer?: string) {
  return (j: Json) => {
    const t = tensors(j)[i];
    t.name = name;
    if (layer !== undefined) {
      t.layer = layer;
      if (!(j.layers as string[]).includes(layer)) (j.layers as string[]).push(layer);
    }
  };
}

const EDITS: [string, (j: Json) => void][] = [
  ['a tensor renamed to ""', rename(0, "")],
  ['a tensor renamed to "\\u0000"', rename(1, "\u0000")],
  [
    "a tensor moved to another layer by name",
    rename(2, "model.layers.1.norm.weight2", "model.layers.1"),
  ],
  ["two same-sized tensors swap names", (j) => {
    const [a, b] = [tensors(j)[1], tensors(j)[2]];
    [a.name, b.name] = [b.name, a.name];
  }],
  ["a dtype changed (same width and layout)", (j) => {
    tensors(j)[1].dtype = "I16";
  }],
  ["a shape changed (same matrix view)", (j) => {
    tensors(j)[1].shape = [1, 16];
  }],
  ["__metadata__ changed", (j) => {
    j.metadata = { format: "tf" };
  }],
  ["__metadata__ dropped", (j) => {
    j.metadata = null;
  }],
  ["the last tensor dropped, its bytes given to the one before", (j) => {
    const ts = tensors(j);
    const last = ts.pop()!;
    ts[ts.length - 1].offsets[1] = last.offsets[1];
  }],
];

Deno.test("checkHeaderAgreement: an unedited container agrees with its header", async () => {
  await withTempDir(async (dir) => {
    const { bytes } = await packBytes(SOURCE, dir);
    const c = await openBytes(bytes);
    const header = await readOriginalHeader(c);
    checkHeaderAgreement(c.index, header);
    strictHeaderAgreement(c.index, header);
    assert.deepEqual((await verifyContainer(c)).problems, []);
  });
});

Deno.test("openContainer refuses an index edited against its header (header_mismatch)", async () => {
  await withTempDir(async (dir) => {
    const { bytes } = await packBytes(SOURCE, dir);
    const header = await readOriginalHeader(await openBytes(bytes));
    let refused = 0;
    for (const [what, edit] of EDITS) {
      const edited = editIndex(bytes, edit);
      let kind = "";
      try {
        await openBytes(edited);
      } catch (e) {
        assert.ok(e instanceof ContainerError, `${what}: ${e}`);
        kind = e.kind;
      }
      // The last edit breaks a cross-field rule on its way; the others reach the comparison.
      if (what.startsWith("the last tensor dropped")) {
        assert.equal(kind, "index_invalid", what);
        continue;
      }
      assert.equal(kind, "header_mismatch", what);
      refused++;
      // Both forms of the check refuse it, and the strict one names the field.
      const index = indexOf(edited);
      assert.throws(() => checkHeaderAgreement(index, header), isContainerError("header_mismatch"));
      assert.throws(
        () => strictHeaderAgreement(index, header),
        (e: unknown) =>
          e instanceof ContainerError && /original header|__metadata__/.test(e.message),
        what,
      );
    }
    assert.equal(refused, EDITS.length - 1);
  });
});

Deno.test("verify names the disagreement and exits 1", async () => {
  await withTempDir(async (dir) => {
    const { bytes } = await packBytes(SOURCE, dir);
    await Deno.writeFile(`${dir}/edited.tsr`, editIndex(bytes, EDITS[0][1]));
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CLI, "verify", `${dir}/edited.tsr`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 1, err);
    assert.match(err, /header_mismatch/);
    assert.match(err, /tensor ""/);
  });
});

Deno.test("a damaged stored header fails only what needs it: tensors are still served", async () => {
  await withTempDir(async (dir) => {
    const { bytes, index } = await packBytes(SOURCE, dir, { mode: "fast" });
    const h = index.source.header;
    const damaged = bytes.slice();
    damaged[h.offset + (h.storedLength >> 1)] ^= 0x40;
    const c = await openBytes(damaged);
    assert.equal(c.originalHeader, undefined);
    assert.ok(c.headerError instanceof ContainerError);
    await assert.rejects(
      readOriginalHeader(c),
      isContainerError(["digest_mismatch", "index_invalid"]),
    );
    for (const t of c.index.tensors) {
      assert.deepEqual(await readRegion(c, t), sourceTensorBytes(SOURCE, index, t.name));
    }
    const report = await verifyContainer(c);
    assert.ok(report.problems.length > 0 && report.problems.every((p) => p.tensor === null));
  });
});

/**
 * The quick check must decide exactly as the strict one: headers mutated member by member and
 * byte by byte, each against the index of the unedited container.
 */
Deno.test("checkHeaderAgreement decides as strictHeaderAgreement on mutated headers", async () => {
  await withTempDir(async (dir) => {
    const { bytes } = await packBytes(SOURCE, dir);
    const c = await openBytes(bytes);
    const header = await readOriginalHeader(c);
    const text = new TextDecoder().decode(header);
    const variants = [
      text.replace('{"', '{ "'),
      text.replace('{"', '{"__metadata__":null,"'),
      text.replace('"__metadata__":{', '"__metadata__":{"format":"pt",'),
      text.replace('"dtype":"BF16"', '"dtype":"BF16","dtype":"BF16"'),
      text.replace('"shape":[8,16]', '"shape":[8.0,16e0]'),
      text.replace('"shape":[8,16]', '"shape":[8,16],"extra":1'),
      text.trimEnd() + "\n",
      text.trimEnd() + "\t ",
      "\ufeff" + text,
      text.replace(/ +$/, "") + "   ",
      text.replace("model.embed_tokens.weight", "model.embed_tokens\\u002eweight"),
      text.replace("model.embed_tokens.weight", "model.embed_tokens\\u002Eweight"),
    ];
    for (let i = 0; i < header.length; i += 7) {
      const b = header.slice();
      b[i] ^= 1 << (i % 8);
      variants.push(new TextDecoder().decode(b));
    }
    const seen = new Set<string>();
    for (const v of variants) {
      // Kept at the header's length where spaces allow, so that the change itself is judged.
      let bytes = new TextEncoder().encode(v);
      if (bytes.length < header.length) {
        bytes = new TextEncoder().encode(v + " ".repeat(header.length - bytes.length));
      } else if (bytes.length > header.length && /^ +$/.test(v.slice(header.length - v.length))) {
        bytes = bytes.subarray(0, header.length);
      }
      const verdict = (f: typeof checkHeaderAgreement) => {
        try {
          f(c.index, bytes);
          return "agrees";
        } catch (e) {
          if (!(e instanceof ContainerError)) throw e;
          return e.kind;
        }
      };
      const quick = verdict(checkHeaderAgreement);
      assert.equal(quick, verdict(strictHeaderAgreement), JSON.stringify(v.slice(0, 120)));
      seen.add(quick);
    }
    assert.deepEqual([...seen].sort(), ["agrees", "header_mismatch"]);
  });
});

const CLI = new URL("../../src/cli/main.ts", import.meta.url).pathname;

function indexOf(bytes: Uint8Array): Index {
  const head = decodeHead(bytes.subarray(0, HEAD_BYTES), bytes.length);
  const raw = bytes.subarray(head.indexOffset, head.indexOffset + head.indexLength);
  return parseIndex(raw, bytes.length, head.version);
}
