/**
 * Number formats shared by the server-rendered pages and their scripts, so a figure reads the same
 * whether the server or the page wrote it. Browser-safe.
 * @module
 */

const UNITS = ["B", "KB", "MB", "GB", "TB", "PB"];

/**
 * Bytes in decimal units with three significant digits (`21.6 MB`), as model hubs show sizes.
 *
 * @example
 * ```ts
 * formatBytes(21_617_356); // "21.6 MB"
 * ```
 */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return "-";
  const sign = n < 0 ? "-" : "";
  let v = Math.abs(n), u = 0;
  while (v >= 999.5 && u < UNITS.length - 1) {
    v /= 1000;
    u++;
  }
  return `${sign}${u === 0 ? String(Math.round(v)) : v.toPrecision(3)} ${UNITS[u]}`;
}

/**
 * A compression ratio, raw bytes over stored bytes, with two decimals (`1.47×`); `-` for nothing
 * stored.
 *
 * @example
 * ```ts
 * formatRatio(147, 100); // "1.47×"
 * ```
 */
export function formatRatio(raw: number, stored: number): string {
  return stored > 0 ? `${(raw / stored).toFixed(2)}×` : "-";
}

/** An integer with thousands separators (`3,041`). */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** A shape as `[8192, 512]`; a scalar as `[]`. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** A share as a percentage with one decimal (`37.5%`). */
export function formatPercent(part: number, whole: number): string {
  return whole > 0 ? `${(100 * part / whole).toFixed(1)}%` : "-";
}

/** An ISO date as `2026-11-30 10:35 UTC`, a fixed form that does not depend on the reader. */
export function formatDate(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** A rate in MB/s (10^6 bytes) with three significant digits. */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}
