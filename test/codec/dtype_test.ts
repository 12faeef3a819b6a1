import assert from "node:assert/strict";
import { DTYPES, dtypeWidth, isDtype, planeLayout } from "../../codec/dtype.ts";

Deno.test("dtype: every safetensors dtype with its width", () => {
  const want: Record<string, number> = {
    BOOL: 1,
    U8: 1,
    I8: 1,
    F8_E5M2: 1,
    F8_E4M3: 1,
    I16: 2,
    U16: 2,
    F16: 2,
    BF16: 2,
    I32: 4,
    U32: 4,
    F32: 4,
    F64: 8,
    I64: 8,
    U64: 8,
  };
  assert.deepEqual([...DTYPES].sort(), Object.keys(want).sort());
  assert.equal(new Set(DTYPES).size, DTYPES.length);
  for (const d of DTYPES) {
    assert.equal(dtypeWidth(d), want[d], d);
    assert.ok(isDtype(d));
  }
});

Deno.test("dtype: isDtype rejects other names, including Object.prototype keys", () => {
  for (
    const name of [
      "",
      "bf16",
      "F128",
      "FLOAT32",
      "U8 ",
      "toString",
      "constructor",
      "__proto__",
      "hasOwnProperty",
    ]
  ) {
    assert.equal(isDtype(name), false, JSON.stringify(name));
  }
});

Deno.test("dtype: plane layouts move the sign for BF16 and F32 only", () => {
  for (const d of DTYPES) {
    const layout = planeLayout(d);
    assert.equal(layout.width, dtypeWidth(d));
    assert.equal(layout.signMoved, d === "BF16" || d === "F32", d);
    // Moving the sign needs two planes.
    if (layout.signMoved) assert.ok(layout.width >= 2);
  }
});
