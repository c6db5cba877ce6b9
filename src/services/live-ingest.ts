/**
 * What an encoder sends over HLS PUT: segments (stored, checked to be MPEG-TS media and probed as
 * they arrive) and its playlist (which gives each stored segment its place and duration). A
 * segment that gets its place becomes a job on the live queue with a deadline. Anything wrong is
 * refused with its reason and changes nothing else: the channel keeps running.
 */
import { timingSafeEqual } from 'node:crypto';
import { Readable } from 'node:stream';
import { and, eq, inArray } from 'drizzle-orm';
import { ApiError } from '../api/api-error.js';
import { liveChannels, liveSegments, type LiveChannelRow, type LiveSegmentRow } from '../db/live-schema.js';
import { looksLikeMpegTs, parseIngestPlaylist, PlaylistError, SEGMENT_NAME, type IngestSegment } from '../jobs/live/ingest-playlist.js';
import { resolveLiveLadder } from '../jobs/live/live-ladder.js';
import type { ChannelInput } from '../jobs/live/spec.js';
import { probeSegment } from '../media/ffmpeg.js';
import type { LiveSegmentPayload } from '../queue/messages.js';
import type { FarmContext } from './farm-context.js';

/** Above this, an 8K source needs a worker with NVDEC (the live-gpu queue). */
const CPU_DECODE_MAX_HEIGHT = 2160;
export const MAX_PLAYLIST_BYTES = 1024 * 1024;
/** A jump in the source's timeline larger than this between segments starts a new discontinuity. */
const TIMELINE_JUMP_SECONDS = 1;

export const sourceKey = (channelId: string, name: string) => `live/${channelId}/in/${name}`;
export const rungKey = (channelId: string, rung: string, seq: number) => `live/${channelId}/${rung}/${seq}.ts`;

/** The channel an ingest request is for, if its stream key is right (compared in constant time). */
export async function ingestChannel(ctx: FarmContext, id: string, key: string | undefined): Promise<LiveChannelRow> {
  const [row] = await ctx.db.select().from(liveChannels).where(eq(liveChannels.id, id));
  const given = Buffer.from(key ?? '');
  const expected = Buffer.from(row?.streamKey ?? 'sk_none');
  if (!row || given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new ApiError('unauthorized', 'wrong channel or stream key: use the ingest_url of the channel as it is (GET /v1/live/channels/{id})');
  }
  if (row.status === 'ended') throw new ApiError('conflict', `channel ${id} has ended; create a new channel for a new event`);
  return row;
}

export async function ingestSegment(ctx: FarmContext, channel: LiveChannelRow, name: string, body: Buffer, arrivedAt: Date): Promise<void> {
  if (!SEGMENT_NAME.test(name)) throw new ApiError('invalid_request', `"${name.slice(0, 80)}" is not a segment name: plain file names only (letters, digits, . _ -)`);
  if (!looksLikeMpegTs(body.subarray(0, 188 * 4))) {
    throw new ApiError('unsupported_media_type', `segment ${name} is not MPEG-TS media (no 0x47 sync every 188 bytes); send MPEG-TS segments (ffmpeg -f hls, its default segment type)`);
  }
  const [known] = await ctx.db.select().from(liveSegments).where(and(eq(liveSegments.channelId, channel.id), eq(liveSegments.name, name)));
  if (known && known.seq !== null) throw new ApiError('conflict', `segment ${name} was already received and placed at sequence ${known.seq}; a repeated segment is refused`);
  // Marked first: the encoder sends its playlist right behind the segment, and that playlist must
  // wait for this check instead of leaving the segment for the next one (a whole segment later).
  const where = and(eq(liveSegments.channelId, channel.id), eq(liveSegments.name, name));
  await ctx.db
    .insert(liveSegments)
    .values({ channelId: channel.id, name, status: 'arriving', arrivedAt })
    .onConflictDoUpdate({ target: [liveSegments.channelId, liveSegments.name], set: { status: 'arriving', arrivedAt } });
  const key = sourceKey(channel.id, name);
  await ctx.storage.put(key, Readable.from([body]));
  const refuse = async (why: string) => {
    await ctx.db.delete(liveSegments).where(where);
    await ctx.storage.delete(key);
    return new ApiError('unsupported_media_type', `segment ${name} ${why}; send MPEG-TS segments (ffmpeg -f hls, its default segment type)`);
  };
  const local = ctx.storage.localPath(key);
  const probe = await probeSegment(local!, { ffprobePath: ctx.config.MALAN_FFPROBE_PATH }).catch((err: Error) => err);
  if (probe instanceof Error) throw await refuse(`has no video ffprobe can read (${probe.message.slice(0, 200)})`);
  await ctx.db.update(liveSegments).set({ status: 'received', probe }).where(where);
  if (channel.status === 'idle') await ctx.db.update(liveChannels).set({ status: 'live', startedAt: arrivedAt }).where(and(eq(liveChannels.id, channel.id), eq(liveChannels.status, 'idle')));
}

/** The encoder's playlist: places the segments it lists for the first time, and queues them. */
export async function ingestPlaylist(ctx: FarmContext, channelId: string, body: Buffer): Promise<{ placed: number }> {
  let playlist;
  try {
    playlist = parseIngestPlaylist(body.toString('utf8'));
  } catch (err) {
    if (err instanceof PlaylistError) throw new ApiError('invalid_request', `playlist refused: ${err.message}`);
    throw err;
  }
  await segmentsArrived(ctx, channelId, playlist.segments.map((s) => s.name));
  const queued: LiveSegmentPayload[] = [];
  await ctx.db.transaction(async (tx) => {
    // One playlist at a time per channel: places are given in order.
    const [channel] = await tx.select().from(liveChannels).where(eq(liveChannels.id, channelId)).for('update');
    if (!channel) throw new ApiError('not_found', `live channel ${channelId} was not found`);
    const rows = await tx.select().from(liveSegments).where(eq(liveSegments.channelId, channelId));
    const byName = new Map(rows.map((r) => [r.name, r]));
    let last = channel.lastSeq ?? -1;
    let previous = rows.filter((r) => r.seq !== null).sort((a, b) => b.seq! - a.seq!)[0];
    let rungs = channel.rungs;
    for (const s of playlist.segments) {
      const row = byName.get(s.name);
      if (row?.seq !== null && row?.seq !== undefined) {
        if (row.seq !== s.seq) throw new ApiError('conflict', `out of order: segment ${s.name} is at sequence ${row.seq}, the playlist now puts it at ${s.seq}`);
        continue;
      }
      if (s.seq <= last) throw new ApiError('conflict', `out of order: segment ${s.name} comes at sequence ${s.seq}, behind ${last} already placed`);
      if (!row || row.status === 'arriving') continue; // listed before its bytes came: placed by a later playlist
      for (let missing = last + 1; missing < s.seq; missing++) {
        await tx.insert(liveSegments).values({ channelId, name: `missing-${missing}`, seq: missing, duration: s.duration, status: 'gap', gapReason: 'missing', arrivedAt: new Date() });
      }
      rungs ??= resolveLiveLadder(channel.ladder as ChannelInput['ladder'], row.probe!).rungs.map((r) => (r.passthrough ? { ...r, bitrate: sourceBitrate(row, s) } : r));
      // A short last segment still costs a process start per rung: the nominal duration is the floor.
      const deadlineAt = new Date(row.arrivedAt.getTime() + channel.deadlineFactor * Math.max(s.duration, channel.segmentDuration) * 1000);
      const discontinuity = s.discontinuity || (previous?.probe && row.probe ? Math.abs(row.probe.start - (previous.probe.start + (previous.duration ?? 0))) > TIMELINE_JUMP_SECONDS : false);
      await tx.update(liveSegments).set({ seq: s.seq, duration: s.duration, status: 'pending', deadlineAt, discontinuity }).where(and(eq(liveSegments.channelId, channelId), eq(liveSegments.name, s.name)));
      queued.push(payload(ctx, channel, s, row, rungs, deadlineAt));
      previous = { ...row, seq: s.seq, duration: s.duration };
      last = s.seq;
    }
    await tx
      .update(liveChannels)
      .set({ lastSeq: last >= 0 ? last : null, rungs, ...(playlist.ended && { status: 'ended' as const, endedAt: new Date() }) })
      .where(eq(liveChannels.id, channelId));
  });
  for (const p of queued) {
    const queue = p.probe.height > CPU_DECODE_MAX_HEIGHT ? ctx.queues.liveGpu : ctx.queues.live;
    await queue.add('segment', p, { jobId: `${p.channelId}.${p.seq}`, attempts: 1, removeOnComplete: { age: 600, count: 1000 }, removeOnFail: { age: 3600 } });
  }
  return { placed: queued.length };
}

/** Waits (briefly) for segments still being checked, so the playlist that lists them places them. */
async function segmentsArrived(ctx: FarmContext, channelId: string, names: string[], timeoutMs = 5000): Promise<void> {
  for (const until = Date.now() + timeoutMs; Date.now() < until; await new Promise((r) => setTimeout(r, 20))) {
    const arriving = await ctx.db
      .select({ name: liveSegments.name })
      .from(liveSegments)
      .where(and(eq(liveSegments.channelId, channelId), eq(liveSegments.status, 'arriving'), inArray(liveSegments.name, names)));
    if (!arriving.length) return;
  }
}

function payload(ctx: FarmContext, channel: LiveChannelRow, s: IngestSegment, row: LiveSegmentRow, rungs: NonNullable<LiveChannelRow['rungs']>, deadlineAt: Date): LiveSegmentPayload {
  const ttl = 3600;
  return {
    channelId: channel.id,
    tenantId: channel.tenantId,
    seq: s.seq,
    duration: s.duration,
    sourceUrl: ctx.signer.sign('GET', `/internal/live/${channel.id}/in/${s.name}`, ttl),
    deadlineAt: deadlineAt.toISOString(),
    rungs,
    probe: row.probe!,
    uploadUrls: Object.fromEntries(rungs.map((r) => [r.name, ctx.signer.sign('PUT', `/internal/live/${channel.id}/out/${s.seq}/${r.name}`, ttl)])),
  };
}

/** The passthrough rung's bitrate for the master playlist: measured on the first segment. */
function sourceBitrate(row: LiveSegmentRow, s: IngestSegment): number {
  const seconds = row.probe?.duration || s.duration;
  return Math.round(((row.probe?.bytes ?? 0) * 8) / seconds) || 0;
}
