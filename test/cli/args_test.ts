import assert from "node:assert/strict";
import { parseOptions } from "../../src/cli/args.ts";
import { UsageError } from "../../src/cli/usage_error.ts";

const SPEC = { transport: { default: "auto" }, workers: {}, output: { short: "o" } };

Deno.test("args: values in both spellings, aliases, defaults, the last one winning", () => {
  const { values, positionals } = parseOptions(
    ["url", "--workers", "2", "out", "--transport=compressed", "-o", "x", "--workers=3"],
    SPEC,
  );
  assert.deepEqual(values, { transport: "compressed", workers: "3", output: "x" });
  assert.deepEqual(positionals, ["url", "out"]);
  assert.deepEqual(parseOptions(["a"], SPEC).values, { transport: "auto" });
});

Deno.test("args: -- ends the options; a lone - is a positional; an empty value is a value", () => {
  const { values, positionals } = parseOptions(["-", "--workers=", "--", "--workers", "-o"], SPEC);
  assert.deepEqual(values, { transport: "auto", workers: "" });
  assert.deepEqual(positionals, ["-", "--workers", "-o"]);
});

Deno.test("args: an unknown option or one without its value is a usage error", () => {
  assert.throws(() => parseOptions(["--nope", "1"], SPEC), UsageError);
  assert.throws(() => parseOptions(["-x", "1"], SPEC), /unknown option -x/);
  assert.throws(() => parseOptions(["--workers"], SPEC), /--workers needs a value/);
  assert.throws(() => parseOptions(["--workers", "--transport", "a"], SPEC), UsageError);
  assert.throws(() => parseOptions(["-o"], SPEC), /-o needs a value/);
  assert.throws(() => parseOptions(["-o", "-x"], SPEC), /write --output=-x/);
});

Deno.test("args: a lone - after an option is its value, as node:util reads it", () => {
  assert.deepEqual(parseOptions(["-o", "-", "a"], SPEC), {
    values: { transport: "auto", output: "-" },
    positionals: ["a"],
  });
});

Deno.test("args: a flag takes no value, and says so when given one", () => {
  const spec = { json: { flag: true as const }, output: { short: "o" } };
  assert.deepEqual(parseOptions(["--json", "a"], spec), {
    values: { json: "true" },
    positionals: ["a"],
  });
  assert.equal(parseOptions(["a"], spec).values.json, undefined);
  assert.throws(() => parseOptions(["--json=1"], spec), /--json takes no value/);
});
