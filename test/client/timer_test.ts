import assert from "node:assert/strict";
import { after } from "../../src/client/timer.ts";

Deno.test("timer: fires once", async () => {
  let fired = 0;
  await new Promise<void>((resolve) => after(20, () => (fired++, resolve())));
  await new Promise((r) => after(30, () => r(undefined)));
  assert.equal(fired, 1);
});

Deno.test("timer: a cancelled timer never fires; odd delays are clamped, not refused", async () => {
  let fired = false;
  const cancel = after(5, () => fired = true);
  cancel();
  cancel(); // twice is harmless
  await new Promise((r) => after(25, () => r(undefined)));
  assert.equal(fired, false);
  await new Promise((r) => after(-5, () => r(undefined)));
  await new Promise((r) => after(0.3, () => r(undefined)));
});
