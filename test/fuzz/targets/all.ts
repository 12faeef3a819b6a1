/**
 * Every fuzz target, in the order a run visits them.
 * @module
 */
import type { FuzzTarget } from "../core.ts";
import {
  agreementTarget,
  chunkTarget,
  containerTarget,
  headTarget,
  indexTarget,
  nativeTarget,
  safetensorsTarget,
} from "./formats.ts";
import { conditionalTarget, namesTarget, rangeTarget, sliceTarget } from "./http_parsers.ts";
import { routesTarget } from "./routes.ts";

/** All targets by name. */
export const TARGETS: readonly FuzzTarget<unknown>[] = [
  safetensorsTarget,
  headTarget,
  indexTarget,
  containerTarget,
  agreementTarget,
  chunkTarget,
  nativeTarget,
  rangeTarget,
  conditionalTarget,
  sliceTarget,
  namesTarget,
  routesTarget,
] as FuzzTarget<unknown>[];

/** The targets named in `names` (all when empty); an unknown name is an error. */
export function selectTargets(names: readonly string[]): FuzzTarget<unknown>[] {
  if (names.length === 0) return [...TARGETS];
  return names.map((n) => {
    const t = TARGETS.find((x) => x.name === n);
    if (!t) throw new Error(`unknown fuzz target ${n}; known: ${TARGETS.map((x) => x.name)}`);
    return t;
  });
}
