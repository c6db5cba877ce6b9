/** drizzle's execute returns rows directly on PGlite and postgres-js alike, or `{rows}` on some drivers. */
export function rowsOf<T>(result: unknown): T[] {
  return Array.isArray(result) ? (result as T[]) : ((result as { rows?: T[] }).rows ?? []);
}

/** Postgres sums of bigint come back as strings (numeric): numbers here, 0 for null. */
export const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
