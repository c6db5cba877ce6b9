/**
 * What an encoder sends over HLS PUT: segments (stored, checked to be MPEG-TS media and probed as
 * they arrive) and its playlist (which gives each stored segment its place and duration). A
 * segment that gets its place becomes a job on the live queue with a deadline. Anything wrong is
 * refused with its reason and changes nothing else: the channel keeps running.
 */
import { timingSafeEqual } from 'node:crypto';
import { Readable } from 'node:stream';
import { and, eq } from 'drizzle-orm';
import type { DbOrTx } from '../db/database.js';
import type { SegmentProbe } from '../media/segment-probe.js';
import { ApiError } from '../api/api-error.js';
import { liveChannels, liveSegments, type LiveChannelRow, type LiveSegmentRow } from '../db/live-schema.js';
import { looksLikeMpegTs, parseIngestPlaylist, PlaylistError, SEGMENT_NAME, type IngestSegment } from '../jobs/live/ingest-playlist.js';
import { resolveLiveLadder } from '../jobs/live/live-ladder.js';
import type { ChannelInput } from '../jobs/live/spec.js';
import { probeSegment } from '../media/ffmpeg.js';
import type { LiveSegmentPayload } from '../queue/messages.js';
import type { FarmContext } from './farm-context.js';
import { withLocalFile } from '../storage/local-file.js';

/** Above this, an 8K source needs a worker with NVDEC (the live-gpu queue). */
export const CPU_DECODE_MAX_HEIGHT = 2160;
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
  const where = and(eq(liveSegments.channelId, channel.id), eq(liveSegments.name, name));
  const repeated = (row: LiveSegmentRow | undefined) =>
    row && row.seq !== null && row.status !== 'listed'
      ? new ApiError('conflict', row.gapReason === 'missing' ? `segment ${name} came after its deadline; it was published as a gap` : `segment ${name} was already received and placed at sequence ${row.seq}; a repeated segment is refused`)
      : null;
  const earlier = repeated((await ctx.db.select().from(liveSegments).where(where))[0]);
  if (earlier) throw earlier;
  const key = sourceKey(channel.id, name);
  await ctx.storage.put(key, Readable.from([body]));
  const probe = await withLocalFile(ctx.storage, key, (file) => probeSegment(file, { ffprobePath: ctx.config.MALAN_FFPROBE_PATH }).catch((err: Error) => err), { bytes: body });
  if (probe instanceof Error) {
    await ctx.storage.delete(key);
    throw new ApiError('unsupported_media_type', `segment ${name} has no video ffprobe can read (${probe.message.slice(0, 200)}); send MPEG-TS segments (ffmpeg -f hls, its default segment type)`);
  }
  // The playlist may have come first (ffmpeg sends it without waiting for the segment's answer):
  // then the segment is placed now; else it waits, received, for the playlist.
  const queued = await ctx.db.transaction(async (tx) => {
    const [locked] = await tx.select().from(liveChannels).where(eq(liveChannels.id, channel.id)).for('update');
    if (!locked) throw new ApiError('not_found', `live channel ${channel.id} was not found`);
    const [row] = await tx.select().from(liveSegments).where(where);
    const conflict = repeated(row);
    if (conflict) throw conflict;
    if (locked.status === 'idle') await tx.update(liveChannels).set({ status: 'live', startedAt: arrivedAt }).where(eq(liveChannels.id, channel.id));
    if (row?.status === 'listed') return place(ctx, tx, locked, { ...row, arrivedAt, probe }, { seq: row.seq!, name, duration: row.duration!, discontinuity: row.discontinuity });
    await tx
      .insert(liveSegments)
      .values({ channelId: channel.id, name, status: 'received', arrivedAt, probe })
      .onConflictDoUpdate({ target: [liveSegments.channelId, liveSegments.name], set: { arrivedAt, probe } });
    return null;
  });
  if (queued) await enqueue(ctx, queued);
}

/** The encoder's playlist: places the segments it lists for the first time, and queues those whose bytes are in. */
export async function ingestPlaylist(ctx: FarmContext, channelId: string, body: Buffer): Promise<{ placed: number }> {
  let playlist;
  try {
    playlist = parseIngestPlaylist(body.toString('utf8'));
  } catch (err) {
    if (err instanceof PlaylistError) throw new ApiError('invalid_request', `playlist refused: ${err.message}`);
    throw err;
  }
  const queued: LiveSegmentPayload[] = [];
  let placed = 0;
  await ctx.db.transaction(async (tx) => {
    // One playlist (or segment placement) at a time per channel: places are given in order.
    const [channel] = await tx.select().from(liveChannels).where(eq(liveChannels.id, channelId)).for('update');
    if (!channel) throw new ApiError('not_found', `live channel ${channelId} was not found`);
    const rows = await tx.select().from(liveSegments).where(eq(liveSegments.channelId, channelId));
    const byName = new Map(rows.map((r) => [r.name, r]));
    let last = channel.lastSeq ?? -1;
    for (const s of playlist.segments) {
      const row = byName.get(s.name);
      if (row?.seq !== null && row?.seq !== undefined) {
        if (row.seq !== s.seq) throw new ApiError('conflict', `out of order: segment ${s.name} is at sequence ${row.seq}, the playlist now puts it at ${s.seq}`);
        continue;
      }
      if (s.seq <= last) throw new ApiError('conflict', `out of order: segment ${s.name} comes at sequence ${s.seq}, behind ${last} already placed`);
      for (let missing = last + 1; missing < s.seq; missing++) {
        await tx.insert(liveSegments).values({ channelId, name: `missing-${missing}`, seq: missing, duration: s.duration, status: 'gap', gapReason: 'missing', arrivedAt: new Date() });
      }
      placed++;
      if (row) {
        const p = await place(ctx, tx, channel, row, s);
        channel.rungs = p.rungs;
        queued.push(p);
      } else {
        // Listed before its bytes are in: due as if they were arriving now, a gap if they never do.
        const now = new Date();
        await tx.insert(liveSegments).values({ channelId, name: s.name, seq: s.seq, duration: s.duration, status: 'listed', discontinuity: s.discontinuity, arrivedAt: now, deadlineAt: deadlineFrom(channel, now, s.duration) });
      }
      last = s.seq;
    }
    await tx
      .update(liveChannels)
      .set({ lastSeq: last >= 0 ? last : null, ...(playlist.ended && { status: 'ended' as const, endedAt: new Date() }) })
      .where(eq(liveChannels.id, channelId));
  });
  for (const p of queued) await enqueue(ctx, p);
  return { placed };
}

/** A short last segment still costs a process start per rung: the nominal duration is the floor. */
function deadlineFrom(channel: LiveChannelRow, arrivedAt: Date, duration: number): Date {
  return new Date(arrivedAt.getTime() + channel.deadlineFactor * Math.max(duration, channel.segmentDuration) * 1000);
}

/**
 * Gives a segment whose bytes are in its place: due from its arrival, a discontinuity where the
 * source's timeline jumped, the channel's ladder resolved on its first segment. Inside the
 * channel's lock; the caller queues what it returns.
 */
async function place(ctx: FarmContext, tx: DbOrTx, channel: LiveChannelRow, row: LiveSegmentRow, s: Pick<IngestSegment, 'seq' | 'name' | 'duration' | 'discontinuity'>): Promise<LiveSegmentPayload> {
  const [previous] = await tx.select().from(liveSegments).where(and(eq(liveSegments.channelId, channel.id), eq(liveSegments.seq, s.seq - 1)));
  const jump = previous?.probe && row.probe ? Math.abs(row.probe.start - (previous.probe.start + (previous.duration ?? 0))) > TIMELINE_JUMP_SECONDS : false;
  const rungs = channel.rungs ?? resolveLiveLadder(channel.ladder as ChannelInput['ladder'], row.probe!).rungs.map((r) => (r.passthrough ? { ...r, bitrate: sourceBitrate(row.probe!, s.duration) } : r));
  if (!channel.rungs) await tx.update(liveChannels).set({ rungs }).where(eq(liveChannels.id, channel.id));
  const deadlineAt = deadlineFrom(channel, row.arrivedAt, s.duration);
  await tx
    .update(liveSegments)
    .set({ seq: s.seq, duration: s.duration, status: 'pending', arrivedAt: row.arrivedAt, probe: row.probe, deadlineAt, discontinuity: s.discontinuity || jump })
    .where(and(eq(liveSegments.channelId, channel.id), eq(liveSegments.name, s.name)));
  return payload(ctx, channel, s, row, rungs, deadlineAt);
}

async function enqueue(ctx: FarmContext, p: LiveSegmentPayload): Promise<void> {
  const queue = p.probe.height > CPU_DECODE_MAX_HEIGHT ? ctx.queues.liveGpu : ctx.queues.live;
  await queue.add('segment', p, { jobId: `${p.channelId}.${p.seq}`, attempts: 1, removeOnComplete: { age: 600, count: 1000 }, removeOnFail: { age: 3600 } });
}

function payload(ctx: FarmContext, channel: LiveChannelRow, s: Pick<IngestSegment, 'seq' | 'name' | 'duration'>, row: LiveSegmentRow, rungs: NonNullable<LiveChannelRow['rungs']>, deadlineAt: Date): LiveSegmentPayload {
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
function sourceBitrate(probe: SegmentProbe, duration: number): number {
  return Math.round((probe.bytes * 8) / (probe.duration || duration)) || 0;
}
