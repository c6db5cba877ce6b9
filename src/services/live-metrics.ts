/**
 * A channel's figures, from its segments: ingest → published latency (p50/p95/p99), how long
 * segments waited for a worker, each rung's real-time factor (encode time ÷ segment duration;
 * under 1 keeps up), and what became gaps and why.
 */
import { sql } from 'drizzle-orm';
import type { ChannelMetrics } from '../jobs/live/channel-metrics.js';
import type { FarmContext } from './farm-context.js';

export type { ChannelMetrics };


function rows<T>(result: unknown): T[] {
  return Array.isArray(result) ? (result as T[]) : ((result as { rows?: T[] }).rows ?? []);
}
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Math.round(Number(v) * 1000) / 1000);

export async function channelMetrics(ctx: FarmContext, channelId: string): Promise<ChannelMetrics> {
  const latency = sql`extract(epoch from published_at - arrived_at)`;
  const wait = sql`extract(epoch from started_at - arrived_at)`;
  // As the playlists show it: a segment past its deadline is a gap now, before the sweeper or its
  // worker's report writes so (up to a quarter second later).
  const overdue = sql`(status in ('pending', 'listed') and deadline_at < now())`;
  const state = sql`case when ${overdue} then 'gap' else status end`;
  const reason = sql`case when ${overdue} then (case when status = 'listed' then 'missing' else 'deadline' end) else gap_reason end`;
  const [summary] = rows<Record<string, unknown>>(
    await ctx.db.execute(sql`
      select count(*) filter (where ${state} = 'published') as published,
             count(*) filter (where ${state} = 'gap') as gaps,
             count(*) filter (where ${state} in ('pending', 'listed')) as pending,
             count(*) filter (where late_discarded) as late,
             count(*) filter (where ${state} = 'gap' and ${reason} = 'deadline') as misses,
             percentile_cont(0.5) within group (order by ${latency}) as l50,
             percentile_cont(0.95) within group (order by ${latency}) as l95,
             percentile_cont(0.99) within group (order by ${latency}) as l99,
             percentile_cont(0.5) within group (order by ${wait}) as w50,
             percentile_cont(0.95) within group (order by ${wait}) as w95
      from live_segments where channel_id = ${channelId} and seq is not null`),
  );
  const reasons = rows<{ reason: string; n: number }>(
    await ctx.db.execute(sql`select ${reason} as reason, count(*)::int as n from live_segments where channel_id = ${channelId} and ${state} = 'gap' group by 1`),
  );
  const rtf = rows<{ rung: string; p50: number; max: number }>(
    await ctx.db.execute(sql`
      select r->>'name' as rung,
             percentile_cont(0.5) within group (order by (r->>'seconds')::float8 / duration) as p50,
             max((r->>'seconds')::float8 / duration) as max
      from live_segments, jsonb_array_elements(coalesce(rungs, '[]'::jsonb)) r
      where channel_id = ${channelId} and duration > 0 group by 1 order by 1`),
  );
  const s = summary ?? {};
  return {
    segments: { published: Number(s.published ?? 0), gaps: Number(s.gaps ?? 0), pending: Number(s.pending ?? 0), late_discarded: Number(s.late ?? 0) },
    deadline_misses: Number(s.misses ?? 0),
    gaps_by_reason: Object.fromEntries(reasons.map((r) => [r.reason, Number(r.n)])),
    latency_seconds: { p50: num(s.l50), p95: num(s.l95), p99: num(s.l99) },
    queue_wait_seconds: { p50: num(s.w50), p95: num(s.w95) },
    realtime_factor: Object.fromEntries(rtf.map((r) => [r.rung, { p50: num(r.p50)!, max: num(r.max)! }])),
  };
}
