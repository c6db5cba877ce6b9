/** A job's log: lines reported by its workers, per attempt, in order. */
import { asc, eq } from 'drizzle-orm';
import { jobLogs, type LogLine } from '../db/schema.js';
import type { FarmContext } from './farm-context.js';

export interface LogEntry {
  attempt: number;
  line: LogLine;
}

export async function readLogs(ctx: FarmContext, jobId: string): Promise<LogEntry[]> {
  const rows = await ctx.db.select().from(jobLogs).where(eq(jobLogs.jobId, jobId)).orderBy(asc(jobLogs.attempt), asc(jobLogs.sequence));
  return rows.flatMap((r) => r.lines.map((line) => ({ attempt: r.attempt, line })));
}

export function formatLogLine(e: LogEntry): string {
  return `${e.line.t} attempt=${e.attempt} ${e.line.level.toUpperCase().padEnd(5)} ${e.line.msg}\n`;
}
