// Percentiles and the shape every measured cell reports.

export interface CellResult {
  /** Completed calls per second within the measured window. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  count: number;
  errors: number;
  /** The first error seen, to say what went wrong when errors > 0. */
  firstError?: string;
}

/** The q-quantile (0..1) of `values` by nearest rank; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

export function sortedCopy(values: readonly number[]): Float64Array {
  return Float64Array.from(values).sort();
}

export function summarize(
  latenciesMs: readonly number[],
  seconds: number,
  errors: number,
): CellResult {
  const sorted = sortedCopy(latenciesMs);
  return {
    rps: sorted.length / seconds,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    count: sorted.length,
    errors,
  };
}

export function ratio(a: number, b: number): number {
  return b > 0 ? a / b : Number.NaN;
}

export const fmt = (n: number, digits = 1): string =>
  Number.isFinite(n) ? n.toFixed(digits) : "-";
