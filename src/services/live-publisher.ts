/**
 * Publishing a channel: a segment is published when every rung is stored before its deadline,
 * and becomes a gap when its deadline passes first, its encode fails, or the encoder never sent
 * it. Playlists are built on each request from the segments' states, in order up to the first one
 * still inside its deadline, so a player never sees a hole and never waits past a deadline.
 */
import { and, eq, inArray, isNotNull, lt, sql } from 'drizzle-orm';
import { liveChannels, liveSegments, type LiveChannelRow } from '../db/live-schema.js';
import { liveMasterPlaylist, liveMediaPlaylist, type PublishedSegment } from '../jobs/live/live-playlists.js';
import type { Report } from '../queue/messages.js';
import { meterEndedChannels } from '../billing/live-meter.js';
import type { FarmContext } from './farm-context.js';
import { rungKey, sourceKey } from './live-ingest.js';

type Started = Extract<Report, { type: 'live-segment-started' }>;
type Ended = Extract<Report, { type: 'live-segment-ended' }>;

const AUDIO_BITS = 128_000;
/** Segments that arrived but no playlist placed within this long are dropped (the encoder moved on). */
const UNPLACED_TTL_MS = 120_000;

export async function recordSegmentStarted(ctx: FarmContext, r: Started): Promise<void> {
  await ctx.db
    .update(liveSegments)
    .set({ startedAt: new Date(r.at), workerId: r.workerId })
    .where(and(eq(liveSegments.channelId, r.channelId), eq(liveSegments.seq, r.seq), eq(liveSegments.status, 'pending')));
}

export async function recordSegmentEnded(ctx: FarmContext, r: Ended): Promise<void> {
  const now = new Date();
  const [row] = await ctx.db.select().from(liveSegments).where(and(eq(liveSegments.channelId, r.channelId), eq(liveSegments.seq, r.seq)));
  if (!row) return; // the channel was deleted meanwhile
  const log = ctx.log.with({ channel: r.channelId, seq: r.seq, worker: r.workerId });
  if (r.fallback) log.warn('live segment: GPU path failed, encoded on the CPU', r.fallback);
  const inTime = row.status === 'pending' && row.deadlineAt !== null && now <= row.deadlineAt;
  if (r.outcome === 'done' && inTime) {
    await ctx.db
      .update(liveSegments)
      .set({ status: 'published', publishedAt: now, rungs: r.rungs, path: r.path, workerId: r.workerId })
      .where(and(eq(liveSegments.channelId, r.channelId), eq(liveSegments.seq, r.seq), eq(liveSegments.status, 'pending')));
  } else if (r.outcome === 'done') {
    // Too late: the segment is (or now becomes) a gap in every rung, and its output is thrown away.
    await ctx.db
      .update(liveSegments)
      .set({ status: 'gap', gapReason: row.gapReason ?? 'deadline', lateDiscarded: true, rungs: r.rungs, path: r.path, workerId: r.workerId })
      .where(and(eq(liveSegments.channelId, r.channelId), eq(liveSegments.seq, r.seq)));
    await Promise.all(r.rungs.map((x) => ctx.storage.delete(rungKey(r.channelId, x.name, r.seq))));
    log.warn('live segment done after its deadline: published as a gap, output discarded', { late_ms: row.deadlineAt ? now.getTime() - row.deadlineAt.getTime() : null });
  } else {
    await ctx.db
      .update(liveSegments)
      .set({ status: 'gap', gapReason: r.outcome === 'skipped' ? 'deadline' : 'failed', workerId: r.workerId })
      .where(and(eq(liveSegments.channelId, r.channelId), eq(liveSegments.seq, r.seq), eq(liveSegments.status, 'pending')));
    if (r.outcome === 'failed') log.warn('live segment failed: published as a gap', { error: r.error });
  }
  await ctx.storage.delete(sourceKey(r.channelId, row.name));
}

/** Pending segments past their deadline become gaps (and their queued work is dropped); stale leftovers go. */
export async function sweepLiveSegments(ctx: FarmContext, now = new Date()): Promise<number> {
  // Listed by the encoder but its bytes never came in time: a gap too, for a different reason.
  const lost = await ctx.db
    .update(liveSegments)
    .set({ status: 'gap', gapReason: 'missing' })
    .where(and(eq(liveSegments.status, 'listed'), lt(liveSegments.deadlineAt, now)))
    .returning({ channelId: liveSegments.channelId, seq: liveSegments.seq });
  for (const m of lost) ctx.log.warn('live segment listed but never received in time: published as a gap', { channel: m.channelId, seq: m.seq });
  const missed = await ctx.db
    .update(liveSegments)
    .set({ status: 'gap', gapReason: 'deadline' })
    .where(and(eq(liveSegments.status, 'pending'), lt(liveSegments.deadlineAt, now)))
    .returning({ channelId: liveSegments.channelId, seq: liveSegments.seq, name: liveSegments.name });
  for (const m of missed) {
    // A segment still waiting is not worth encoding now; one being encoded is discarded when it reports.
    await ctx.queues.live.remove(`${m.channelId}.${m.seq}`).catch(() => 0);
    await ctx.queues.liveGpu.remove(`${m.channelId}.${m.seq}`).catch(() => 0);
    ctx.log.warn('live segment missed its deadline: published as a gap', { channel: m.channelId, seq: m.seq });
  }
  const stale = await ctx.db
    .delete(liveSegments)
    .where(and(eq(liveSegments.status, 'received'), lt(liveSegments.arrivedAt, new Date(now.getTime() - UNPLACED_TTL_MS))))
    .returning({ channelId: liveSegments.channelId, name: liveSegments.name });
  for (const s of stale) await ctx.storage.delete(sourceKey(s.channelId, s.name));
  await pruneOutsideWindow(ctx);
  return missed.length;
}

/** Channels that do not archive keep only what their window (and a player a little behind it) needs. */
async function pruneOutsideWindow(ctx: FarmContext): Promise<void> {
  const channels = await ctx.db.select().from(liveChannels).where(and(eq(liveChannels.archive, false), isNotNull(liveChannels.lastSeq)));
  for (const c of channels) {
    const keepFrom = c.lastSeq! - c.windowSize * 2;
    const old = await ctx.db
      .update(liveSegments)
      .set({ rungs: sql`'[]'::jsonb` })
      .where(and(eq(liveSegments.channelId, c.id), lt(liveSegments.seq, keepFrom), sql`jsonb_array_length(coalesce(${liveSegments.rungs}, '[]'::jsonb)) > 0`))
      .returning({ seq: liveSegments.seq });
    for (const o of old) for (const r of c.rungs ?? []) await ctx.storage.delete(rungKey(c.id, r.name, o.seq!));
  }
}

export function startLiveSweeper(ctx: FarmContext, everyMs = 250): () => void {
  let running = false;
  let ticks = 0;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    // Ended events are charged every few seconds: the query is cheap, and a crash loses nothing.
    const meter = ++ticks % 20 === 0 ? meterEndedChannels(ctx.db, ctx.config) : Promise.resolve(0);
    Promise.all([sweepLiveSegments(ctx), meter])
      .catch((err: Error) => ctx.log.error('live sweep failed', { error: err.message }))
      .finally(() => (running = false));
  }, everyMs);
  return () => clearInterval(timer);
}

/** The segments a channel's playlists list now: resolved ones, in order, up to the first still in time. */
export async function publishedSegments(ctx: FarmContext, channel: LiveChannelRow, now = new Date()): Promise<{ segments: PublishedSegment[]; complete: boolean }> {
  const rows = await ctx.db
    .select({ seq: liveSegments.seq, duration: liveSegments.duration, status: liveSegments.status, deadlineAt: liveSegments.deadlineAt, discontinuity: liveSegments.discontinuity })
    .from(liveSegments)
    .where(and(eq(liveSegments.channelId, channel.id), isNotNull(liveSegments.seq), inArray(liveSegments.status, ['listed', 'pending', 'published', 'gap'])))
    .orderBy(liveSegments.seq);
  const segments: PublishedSegment[] = [];
  for (const r of rows) {
    const waiting = r.status === 'pending' || r.status === 'listed';
    if (waiting && !(r.deadlineAt !== null && r.deadlineAt < now)) return { segments, complete: false };
    segments.push({ seq: r.seq!, duration: r.duration ?? channel.segmentDuration, gap: r.status !== 'published', discontinuity: r.discontinuity });
  }
  return { segments, complete: true };
}

export function masterFor(channel: LiveChannelRow): string {
  return liveMasterPlaylist(
    (channel.rungs ?? []).map((r) => ({
      name: r.name,
      width: r.width,
      height: r.height,
      // Peak for players' rung choice: the target (or measured) video rate with headroom, plus audio.
      bandwidth: (r.bitrate || 1_000_000) * 1.2 + AUDIO_BITS,
      codecs: r.codecs ? r.codecs.split(',') : [],
    })),
  );
}

export async function mediaPlaylistFor(ctx: FarmContext, channel: LiveChannelRow): Promise<string> {
  const { segments, complete } = await publishedSegments(ctx, channel);
  const ended = channel.status === 'ended' && complete;
  return liveMediaPlaylist({ segments, windowSize: channel.windowSize, segmentDuration: channel.segmentDuration, ended, vod: ended && channel.archive });
}
