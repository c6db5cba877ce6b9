/**
 * Live channels and their segments. A segment is a row from the moment its bytes arrive
 * (`received`), gets its place in the stream from the encoder's playlist (`pending`, with a
 * deadline), and ends `published` (every rung stored before the deadline) or `gap` (late, failed,
 * or no worker could take it) — never both: output that arrives after a gap is discarded.
 */
import { doublePrecision, index, integer, jsonb, pgTable, primaryKey, text, timestamp, boolean } from 'drizzle-orm/pg-core';
import { tenants } from './schema.js';
import type { SegmentProbe } from '../media/segment-probe.js';

export type { SegmentProbe };

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const CHANNEL_STATUSES = ['idle', 'live', 'ended'] as const;
export type ChannelStatus = (typeof CHANNEL_STATUSES)[number];
/**
 * listed: placed by the playlist, its bytes not in yet; received: its bytes in and checked, not yet
 * placed (ffmpeg sends a segment and then its playlist without waiting, so either comes first).
 */
export const SEGMENT_STATUSES = ['listed', 'received', 'pending', 'published', 'gap'] as const;
export type SegmentStatus = (typeof SEGMENT_STATUSES)[number];
/** deadline: not done in time; failed: the encode failed; missing: the encoder listed it but never sent it. */
export type GapReason = 'deadline' | 'failed' | 'missing';

/** A rung as resolved for the channel's source: `passthrough` copies the source as is. */
export interface LiveRung {
  name: string;
  height: number;
  width: number;
  bitrate: number;
  passthrough: boolean;
  /** The RFC 6381 codecs (video, then audio) for the master playlist, when the video's is known. */
  codecs: string | null;
}

export interface SegmentRungResult {
  name: string;
  seconds: number;
  bytes: number;
}

export const liveChannels = pgTable('live_channels', {
  id: text('id').primaryKey(),
  tenantId: text('tenant_id').notNull().references(() => tenants.id),
  name: text('name'),
  status: text('status').$type<ChannelStatus>().notNull(),
  /** The ladder as asked for (`auto` or rungs), kept as given. */
  ladder: jsonb('ladder').notNull(),
  /** The ladder resolved against the source when its first segment arrived. */
  rungs: jsonb('rungs').$type<LiveRung[] | null>(),
  segmentDuration: integer('segment_duration').notNull(),
  windowSize: integer('window_size').notNull(),
  deadlineFactor: doublePrecision('deadline_factor').notNull(),
  archive: boolean('archive').notNull(),
  /** Shown in the ingest URL, like a streaming service's stream key; compared in constant time. */
  streamKey: text('stream_key').notNull(),
  lastSeq: integer('last_seq'),
  createdAt: at('created_at').notNull().defaultNow(),
  startedAt: at('started_at'),
  endedAt: at('ended_at'),
});
export type LiveChannelRow = typeof liveChannels.$inferSelect;

export const liveSegments = pgTable(
  'live_segments',
  {
    channelId: text('channel_id').notNull().references(() => liveChannels.id, { onDelete: 'cascade' }),
    /** The encoder's file name (`index12.ts`). */
    name: text('name').notNull(),
    seq: integer('seq'),
    status: text('status').$type<SegmentStatus>().notNull(),
    gapReason: text('gap_reason').$type<GapReason>(),
    /** Set when a gap starts the segment: the source's timeline jumped (a new encoder session). */
    discontinuity: boolean('discontinuity').notNull().default(false),
    duration: doublePrecision('duration'),
    probe: jsonb('probe').$type<SegmentProbe>(),
    arrivedAt: at('arrived_at').notNull(),
    deadlineAt: at('deadline_at'),
    startedAt: at('started_at'),
    publishedAt: at('published_at'),
    /** Output that came back after the segment was already a gap, and was thrown away. */
    lateDiscarded: boolean('late_discarded').notNull().default(false),
    workerId: text('worker_id'),
    path: text('path'),
    rungs: jsonb('rungs').$type<SegmentRungResult[]>(),
  },
  (t) => [primaryKey({ columns: [t.channelId, t.name] }), index('live_segments_seq_idx').on(t.channelId, t.seq)],
);
export type LiveSegmentRow = typeof liveSegments.$inferSelect;
