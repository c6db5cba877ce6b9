/** A job's log: lines reported by its workers, per attempt, in order. */
import { and, asc, eq, gte, lte } from 'drizzle-orm';
import { jobLogs, type LogLine } from '../db/schema.js';
import type { FarmContext } from './farm-context.js';

export interface LogEntry {
  attempt: number;
  line: LogLine;
}

/** `attempts`: only those in [from, to] (a render task's runs: `renderAttempt` numbers them by task). */
export async function readLogs(ctx: FarmContext, jobId: string, attempts?: { from: number; to: number }): Promise<LogEntry[]> {
  const scope = attempts ? and(eq(jobLogs.jobId, jobId), gte(jobLogs.attempt, attempts.from), lte(jobLogs.attempt, attempts.to)) : eq(jobLogs.jobId, jobId);
  const rows = await ctx.db.select().from(jobLogs).where(scope).orderBy(asc(jobLogs.attempt), asc(jobLogs.sequence));
  return rows.flatMap((r) => r.lines.map((line) => ({ attempt: r.attempt, line })));
}

export function formatLogLine(e: LogEntry): string {
  return `${e.line.t} attempt=${e.attempt} ${e.line.level.toUpperCase().padEnd(5)} ${e.line.msg}\n`;
}
