/**
 * The one place routes take container leases. A representation built from a container owns its
 * lease (released when its response is done); {@link leasedRepresentation} hands the lease to the
 * builder and releases it at once if building fails. {@link withContainer} holds a lease for the
 * length of a computation. Handlers never call `acquire` or `release` themselves.
 * @module
 */
import type { Representation } from "../http/representation.ts";
import type { ContainerLease } from "../store/container_leases.ts";
import type { ServerContext } from "./context.ts";

/** What the helpers need of the server: its store, whose lease table they use. */
export type Leasing = Pick<ServerContext, "store">;

/**
 * A representation of container `sha256` built by `build`, which receives a lease the
 * representation then owns.
 *
 * @example
 * ```ts
 * const rep = await leasedRepresentation(ctx, file.container.sha256, (lease) =>
 *   tensorRepresentation(lease, ctx.chunks, t));
 * ```
 */
export async function leasedRepresentation(
  ctx: Leasing,
  sha256: string,
  build: (lease: ContainerLease) => Representation | Promise<Representation>,
): Promise<Representation> {
  const lease = await ctx.store.leases.acquire(sha256);
  try {
    return await build(lease);
  } catch (e) {
    lease.release();
    throw e;
  }
}

/**
 * Runs `use` with a lease of container `sha256`, released afterwards.
 *
 * @example
 * ```ts
 * const index = await withContainer(ctx, sha, (lease) => lease.container.index);
 * ```
 */
export async function withContainer<T>(
  ctx: Leasing,
  sha256: string,
  use: (lease: ContainerLease) => T | Promise<T>,
): Promise<T> {
  const lease = await ctx.store.leases.acquire(sha256);
  try {
    return await use(lease);
  } finally {
    lease.release();
  }
}
