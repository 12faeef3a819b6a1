import assert from "node:assert/strict";
import { formatBytes, formatRate, progressBar, sessionRate } from "../../src/cli/progress.ts";

Deno.test("progress: binary units throughout, the rate over this session's bytes only", () => {
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatRate(3 * 1024 * 1024), "3.0 MiB/s");
  // A resumed transfer: 900 MiB were there before; 10 MiB arrive in 1 s.
  const MiB = 1 << 20;
  assert.equal(sessionRate({ done: 900 * MiB, at: 0 }, { done: 910 * MiB, at: 1000 }), 10 * MiB);
  let clock = 0;
  const lines: string[] = [];
  const bar = progressBar("pull", 1000 * MiB, {
    force: true,
    now: () => clock,
    write: (t) => void lines.push(t),
  });
  bar.update(900 * MiB); // the resume point: the session starts here
  clock = 2000;
  bar.update(920 * MiB);
  const last = lines.at(-1)!;
  assert.match(last, /92\.0% 920\.0 MiB\/1000\.0 MiB 10\.0 MiB\/s/);
  bar.stop();
  assert.equal(lines.at(-1), "\n");
});
