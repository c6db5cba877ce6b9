/**
 * A job's outputs by relative name, from the attempt that succeeded (others' files are not the
 * job's); for a render job, from the outputs its tasks recorded.
 */
import { and, eq } from 'drizzle-orm';
import { files, jobAttempts, type FileRow, type JobRow } from '../db/schema.js';
import type { FarmContext } from './farm-context.js';

export async function findOutput(ctx: FarmContext, job: JobRow, name: string): Promise<FileRow | null> {
  if (job.status !== 'succeeded') return null;
  // A render job's outputs come from many tasks' runs: its list of outputs says which file each is.
  if (job.kind === 'render') {
    const listed = job.outputs.find((o) => o.name === name);
    if (!listed) return null;
    const [row] = await ctx.db.select().from(files).where(and(eq(files.id, listed.file), eq(files.jobId, job.id)));
    return row ?? null;
  }
  const [won] = await ctx.db
    .select({ attempt: jobAttempts.attempt })
    .from(jobAttempts)
    .where(and(eq(jobAttempts.jobId, job.id), eq(jobAttempts.status, 'succeeded')));
  if (!won) return null;
  const [row] = await ctx.db.select().from(files).where(and(eq(files.jobId, job.id), eq(files.attempt, won.attempt), eq(files.name, name)));
  return row ?? null;
}
