/**
 * Live channels: made with a ladder and timing, fed by an encoder over HLS PUT (live-ingest.ts),
 * published segment by segment (live-publisher.ts). A channel's ingest URL carries its stream
 * key, like a streaming service's; its playback URL is a signed master playlist any player opens.
 */
import { randomBytes } from 'node:crypto';
import { and, desc, eq } from 'drizzle-orm';
import { ApiError } from '../api/api-error.js';
import { liveChannels, liveSegments, type LiveChannelRow } from '../db/live-schema.js';
import { newId } from '../ids.js';
import { channelInputSchema } from '../jobs/live/spec.js';
import type { FarmContext } from './farm-context.js';
import { formatIssues } from './format-issues.js';
import type { Principal } from './keys.js';
import { CPU_DECODE_MAX_HEIGHT } from './live-ingest.js';
import { channelMetrics, type ChannelMetrics } from './live-metrics.js';
import { listWorkers } from './worker-view.js';

/** How long a playback link works; a view of the channel always carries a fresh one. */
export const LIVE_PLAYBACK_TTL_SECONDS = 30 * 24 * 3600;

export async function createChannel(ctx: FarmContext, who: Principal, body: unknown) {
  const parsed = channelInputSchema.safeParse(body ?? {});
  if (!parsed.success) throw new ApiError('invalid_request', formatIssues(parsed.error));
  const c = parsed.data;
  const [row] = await ctx.db
    .insert(liveChannels)
    .values({
      id: newId('live'),
      tenantId: who.tenantId,
      name: c.name ?? null,
      status: 'idle',
      ladder: c.ladder,
      segmentDuration: c.segment_duration,
      windowSize: c.window_size,
      deadlineFactor: c.deadline_factor,
      archive: c.archive,
      streamKey: `sk_${randomBytes(24).toString('base64url')}`,
    })
    .returning();
  ctx.log.info('live channel created', { channel: row!.id, tenant: who.tenantId });
  return channelView(ctx, row!);
}

export async function getChannelRow(ctx: FarmContext, who: Principal, id: string): Promise<LiveChannelRow> {
  const [row] = await ctx.db.select().from(liveChannels).where(who.operator ? eq(liveChannels.id, id) : and(eq(liveChannels.id, id), eq(liveChannels.tenantId, who.tenantId)));
  if (!row) throw new ApiError('not_found', `live channel ${id.slice(0, 60)} was not found`);
  return row;
}

export async function listChannels(ctx: FarmContext, who: Principal) {
  const rows = await ctx.db.select().from(liveChannels).where(who.operator ? undefined : eq(liveChannels.tenantId, who.tenantId)).orderBy(desc(liveChannels.id)).limit(200);
  return { results: await Promise.all(rows.map((r) => channelView(ctx, r))) };
}

/** Ends the event: ingest is refused from now on, and the playlists close once the last segments resolve. */
export async function stopChannel(ctx: FarmContext, who: Principal, id: string) {
  const row = await getChannelRow(ctx, who, id);
  if (row.status === 'ended') return channelView(ctx, row);
  const [ended] = await ctx.db.update(liveChannels).set({ status: 'ended', endedAt: new Date() }).where(eq(liveChannels.id, id)).returning();
  ctx.log.info('live channel stopped', { channel: id, tenant: row.tenantId });
  return channelView(ctx, ended!);
}

/** Removes the channel, its segments and their files (queued segment work finds nothing and is dropped). */
export async function deleteChannel(ctx: FarmContext, who: Principal, id: string): Promise<void> {
  const row = await getChannelRow(ctx, who, id);
  await ctx.db.delete(liveSegments).where(eq(liveSegments.channelId, row.id));
  await ctx.db.delete(liveChannels).where(eq(liveChannels.id, row.id));
  await ctx.storage.deletePrefix(`live/${row.id}/`);
  ctx.log.info('live channel deleted', { channel: id, tenant: row.tenantId });
}

export function playbackToken(ctx: Pick<FarmContext, 'signer'>, channelId: string): string {
  const url = new URL(ctx.signer.sign('GET', `/v1/live/play/${channelId}`, LIVE_PLAYBACK_TTL_SECONDS));
  return `${channelId}.${url.searchParams.get('expires')}.${url.searchParams.get('sig')}`;
}

export async function channelView(ctx: FarmContext, row: LiveChannelRow) {
  const metrics: ChannelMetrics = await channelMetrics(ctx, row.id);
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    ladder: row.ladder,
    rungs: row.rungs?.map((r) => ({ name: r.name, width: r.width, height: r.height, bitrate: r.bitrate, passthrough: r.passthrough })) ?? null,
    segment_duration: row.segmentDuration,
    window_size: row.windowSize,
    deadline_factor: row.deadlineFactor,
    archive: row.archive,
    ingest_url: `${ctx.baseUrl}/v1/live/channels/${row.id}/ingest/${row.streamKey}`,
    playback_url: `${ctx.baseUrl}/v1/live/play/${playbackToken(ctx, row.id)}/master.m3u8`,
    metrics,
    waiting_for_worker: row.status === 'ended' ? null : await liveWorkerMissing(ctx, row),
    created_at: row.createdAt.toISOString(),
    started_at: row.startedAt?.toISOString() ?? null,
    ended_at: row.endedAt?.toISOString() ?? null,
  };
}

/** Why no segment of this channel can be encoded now, or null when a worker that can is up. */
async function liveWorkerMissing(ctx: FarmContext, row: LiveChannelRow): Promise<string | null> {
  const up = (await listWorkers(ctx, 200)).filter((w) => w.status === 'up' && w.kinds.includes('live'));
  const gpu = (row.rungs ?? []).some((r) => r.height > CPU_DECODE_MAX_HEIGHT);
  if (gpu && !up.some((w) => w.capabilities.videoAcceleration?.nvdecCodecs.length)) {
    return 'no worker that is up decodes this 8K source with NVDEC; its segments become gaps until one is (see /v1/admin/workers)';
  }
  return up.length ? null : 'no worker that takes live segments is up; segments become gaps until one is';
}
