import assert from "node:assert/strict";
import { createKeyedMutex } from "../../src/store/keyed_mutex.ts";

Deno.test("keyed mutex: one key runs in order, other keys run alongside, failures do not jam", async () => {
  const m = createKeyedMutex();
  const events: string[] = [];
  const task = (name: string, ms: number, fail = false) => async () => {
    events.push(`${name}+`);
    await new Promise((r) => setTimeout(r, ms));
    events.push(`${name}-`);
    if (fail) throw new Error(name);
    return name;
  };
  const results = await Promise.allSettled([
    m.run("a", task("a1", 20, true)),
    m.run("a", task("a2", 1)),
    m.run("b", task("b1", 5)),
  ]);
  assert.equal(results[0].status, "rejected");
  assert.deepEqual(results.slice(1).map((r) => r.status === "fulfilled" && r.value), ["a2", "b1"]);
  assert.ok(events.indexOf("a1-") < events.indexOf("a2+"), events.join(" "));
  assert.ok(events.indexOf("b1+") < events.indexOf("a1-"), events.join(" "));
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(m.size, 0);
});
