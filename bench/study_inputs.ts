/**
 * What the container-level studies (`grouping_study.ts`, `prior_study.ts`) read: the folder the
 * grouping study packs into and the prior study reads from, and the quantised inputs both price.
 * @module
 */

/** Where the studies keep the inputs and the `best` containers packed from them. */
export const STUDY_DIR = Deno.env.get("STUDY_DIR") ?? "/tmp/codec5-study";

/** The quantised inputs (made by `inputs/quantised.ts`) both studies price by default. */
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
