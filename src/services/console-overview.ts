/**
 * The console's overview: what an operator (or a tenant, for its own jobs) needs at a glance —
 * work waiting and running, what ended in the last hour minute by minute, how long jobs waited,
 * the latest failures, and for operators the queues and the workers with their GPUs.
 */
import { and, desc, eq, gte, sql, type SQL } from 'drizzle-orm';
import { jobs } from '../db/schema.js';
import type { FarmContext } from './farm-context.js';
import type { Principal } from './keys.js';
import { listWorkers } from './worker-view.js';
import type { Overview } from '../console/console-shapes.js';

const HOUR_MS = 3600_000;


export async function consoleOverview(ctx: FarmContext, who: Principal, now = new Date()): Promise<Overview> {
  const mine: SQL[] = who.operator ? [] : [eq(jobs.tenantId, who.tenantId)];
  const since = new Date(now.getTime() - HOUR_MS);
  const [open, ended, wait, fails] = await Promise.all([
    ctx.db
      .select({ status: jobs.status, n: sql<number>`count(*)::int` })
      .from(jobs)
      .where(and(...mine, sql`${jobs.status} in ('queued', 'running', 'paused')`))
      .groupBy(jobs.status),
    ctx.db
      .select({ minute: sql<string>`to_char(date_trunc('minute', ${jobs.completedAt}) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:00"Z"')`, status: jobs.status, n: sql<number>`count(*)::int` })
      .from(jobs)
      .where(and(...mine, gte(jobs.completedAt, since)))
      .groupBy(sql`1`, jobs.status),
    ctx.db
      .select({
        p50: sql<number | null>`percentile_cont(0.5) within group (order by extract(epoch from ${jobs.startedAt} - ${jobs.createdAt}))`,
        p95: sql<number | null>`percentile_cont(0.95) within group (order by extract(epoch from ${jobs.startedAt} - ${jobs.createdAt}))`,
      })
      .from(jobs)
      .where(and(...mine, gte(jobs.startedAt, since))),
    ctx.db
      .select({ id: jobs.id, kind: jobs.kind, name: jobs.name, error: jobs.error, completedAt: jobs.completedAt })
      .from(jobs)
      .where(and(...mine, eq(jobs.status, 'failed'), gte(jobs.completedAt, since)))
      .orderBy(desc(jobs.completedAt))
      .limit(10),
  ]);
  const count = (s: string) => Number(open.find((r) => r.status === s)?.n ?? 0);
  const endedCount = (s: string) => ended.filter((r) => r.status === s).reduce((a, r) => a + Number(r.n), 0);
  const overview: Overview = {
    at: now.toISOString(),
    role: who.operator ? 'operator' : 'tenant',
    tenant: who.tenantName,
    jobs: { queued: count('queued'), running: count('running'), paused: count('paused') },
    last_hour: {
      succeeded: endedCount('succeeded'),
      failed: endedCount('failed'),
      canceled: endedCount('canceled'),
      wait_p50_s: seconds(wait[0]?.p50),
      wait_p95_s: seconds(wait[0]?.p95),
    },
    throughput: minutes(since, now).map((minute) => ({
      minute,
      succeeded: Number(ended.find((r) => r.minute === minute && r.status === 'succeeded')?.n ?? 0),
      failed: Number(ended.find((r) => r.minute === minute && r.status === 'failed')?.n ?? 0),
    })),
    failures: fails.map((f) => {
      const error = f.error as { code?: string; message?: string } | null;
      return { id: f.id, kind: f.kind, name: f.name, code: error?.code ?? null, message: error?.message ?? null, completed_at: f.completedAt!.toISOString() };
    }),
  };
  if (!who.operator) return overview;
  const queues = await Promise.all(
    ctx.queues.all().map(async (q) => ({ name: q.name, counts: await q.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'waiting-children', 'failed') })),
  );
  const workers = (await listWorkers(ctx, 200)).filter((w) => w.status !== 'stopped');
  const up = workers.filter((w) => w.status === 'up');
  const utils = up.flatMap((w) => w.gpus.map((g) => g.utilizationGpuPercent)).filter((u): u is number => u !== null);
  return {
    ...overview,
    queues,
    workers: {
      up: up.length,
      lost: workers.length - up.length,
      gpus: up.reduce((a, w) => a + w.gpus.length, 0),
      cpu_only: up.filter((w) => w.gpus.length === 0).length,
      gpu_util_avg: utils.length ? Math.round(utils.reduce((a, u) => a + u, 0) / utils.length) : null,
    },
  };
}

function seconds(v: number | string | null | undefined): number | null {
  return v === null || v === undefined ? null : Math.round(Number(v) * 100) / 100;
}

/** The UTC minutes of the window, as the query labels them. */
function minutes(from: Date, to: Date): string[] {
  const out: string[] = [];
  const start = Math.floor(from.getTime() / 60_000) * 60_000 + 60_000;
  for (let t = start; t <= to.getTime(); t += 60_000) out.push(new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:\d\dZ$/, ':00Z'));
  return out;
}
