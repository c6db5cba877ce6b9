/**
 * Live channels in `/metrics`: segments by outcome, deadline misses, ingest → published latency
 * (a summary with p50/p95/p99) and each rung's real-time factor, per channel. Channels that ended
 * more than an hour ago drop out, so the series stay as many as the channels on air.
 */
import { sql } from 'drizzle-orm';
import type { FarmContext } from './farm-context.js';
import { channelMetrics } from './live-metrics.js';

type Family = (name: string, help: string, type: 'gauge' | 'counter' | 'summary', samples: Array<[Record<string, string>, number]>) => void;

export async function liveMetricFamilies(ctx: FarmContext, family: Family): Promise<void> {
  const result = await ctx.db.execute(sql`select id from live_channels where status <> 'ended' or ended_at > now() - interval '1 hour' order by id`);
  const ids = (Array.isArray(result) ? result : ((result as { rows?: unknown[] }).rows ?? [])) as Array<{ id: string }>;
  const all = await Promise.all(ids.map(async ({ id }) => ({ id, m: await channelMetrics(ctx, id) })));
  family('malan_live_segments_total', 'Live segments resolved, by channel and outcome (published, gap).', 'counter', all.flatMap(({ id, m }) => [[{ channel: id, outcome: 'published' }, m.segments.published], [{ channel: id, outcome: 'gap' }, m.segments.gaps]] as Array<[Record<string, string>, number]>));
  family('malan_live_deadline_misses_total', 'Live segments published as EXT-X-GAP because they were not done by their deadline.', 'counter', all.map(({ id, m }) => [{ channel: id }, m.deadline_misses]));
  const latency: Array<[Record<string, string>, number]> = [];
  for (const { id, m } of all) {
    for (const [q, v] of [['0.5', m.latency_seconds.p50], ['0.95', m.latency_seconds.p95], ['0.99', m.latency_seconds.p99]] as const) if (v !== null) latency.push([{ channel: id, quantile: q }, v]);
  }
  const totals = await ctx.db.execute(
    sql`select channel_id as id, count(*)::int as n, coalesce(sum(extract(epoch from published_at - arrived_at)), 0)::float8 as total from live_segments where status = 'published' group by 1`,
  );
  for (const t of (Array.isArray(totals) ? totals : ((totals as { rows?: unknown[] }).rows ?? [])) as Array<{ id: string; n: number; total: number }>) {
    if (!ids.some((c) => c.id === t.id)) continue;
    latency.push([{ channel: t.id, __suffix: '_sum' }, Math.round(Number(t.total) * 1000) / 1000], [{ channel: t.id, __suffix: '_count' }, Number(t.n)]);
  }
  family('malan_live_segment_latency_seconds', 'Time from a segment arriving at ingest to being published in every rung.', 'summary', latency);
  family('malan_live_realtime_factor', 'Encode time over segment duration, median, by channel and rung (below 1 keeps up).', 'gauge', all.flatMap(({ id, m }) => Object.entries(m.realtime_factor).map(([rung, r]) => [{ channel: id, rung }, r.p50] as [Record<string, string>, number])));
}
