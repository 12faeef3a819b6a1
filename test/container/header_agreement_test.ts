/**
 * The index must agree with the stored original header: an index rewritten with its head SHA-256
 * recomputed opens (every index rule holds), but names, dtypes, shapes, offsets or metadata that
 * differ from the original header are a `header_mismatch`, and `verify` reports it.
 */
import assert from "node:assert/strict";
import { checkHeaderAgreement } from "../../src/container/header_agreement.ts";
import { readOriginalHeader } from "../../src/container/read.ts";
import { verifyContainer } from "../../src/container/verify.ts";
import { buildSafetensors } from "../safetensors/fixture.ts";
import {
  editIndex,
  isContainerError,
  openBytes,
  packBytes,
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
    checkHeaderAgreement(c.index, await readOriginalHeader(c));
    assert.deepEqual((await verifyContainer(c)).problems, []);
  });
});

Deno.test("checkHeaderAgreement: an index edited against its header is header_mismatch", async () => {
  await withTempDir(async (dir) => {
    const { bytes } = await packBytes(SOURCE, dir);
    let opened = 0;
    for (const [what, edit] of EDITS) {
      let c;
      try {
        c = await openBytes(editIndex(bytes, edit));
      } catch (e) {
        // The last edit breaks a cross-field rule on its way; the others must open.
        assert.ok(what.startsWith("the last tensor dropped"), `${what}: ${(e as Error).message}`);
        continue;
      }
      opened++;
      const header = await readOriginalHeader(c);
      assert.throws(
        () => checkHeaderAgreement(c.index, header),
        isContainerError("header_mismatch"),
        what,
      );
      const report = await verifyContainer(c);
      assert.ok(
        report.problems.some((p) =>
          p.tensor === null && /original header|__metadata__/.test(p.message)
        ),
        `${what}: verify reports ${JSON.stringify(report.problems)}`,
      );
    }
    assert.ok(opened >= EDITS.length - 1, "the edits keep the index valid");
  });
});
