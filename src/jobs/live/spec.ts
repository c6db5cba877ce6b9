/**
 * A live channel as a studio asks for it. Everything has a default, so `{}` makes a channel with
 * an automatic ladder (the source passed through, then up to three standard rungs below it), 2 s
 * segments and a 6-segment window.
 */
import { z } from 'zod';
import { bitrateSchema, heightSchema } from '../transcode/spec.js';

const RUNG_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

const rungSchema = z
  .strictObject({
    name: z.string().regex(RUNG_NAME, { error: 'a rung name is 1–32 of a-z, 0-9 and -, starting with a letter or digit' }).optional(),
    height: heightSchema.optional(),
    bitrate: bitrateSchema('bitrate').optional(),
    /** The source as it arrives, not re-encoded (an 8K feed's top rung). */
    passthrough: z.literal(true, { error: 'passthrough must be true (or left out)' }).optional(),
  })
  .refine((r) => (r.height === undefined) !== (r.passthrough === undefined), { error: 'a rung has either a height (encoded) or "passthrough": true' })
  .refine((r) => !(r.passthrough && r.bitrate), { error: 'a passthrough rung keeps the source bitrate; leave out bitrate' });

export const channelInputSchema = z
  .strictObject({
    name: z.string().trim().min(1, { error: 'name must not be empty (leave it out instead)' }).max(200, { error: 'name is at most 200 characters' }).optional(),
    ladder: z
      .union([z.literal('auto'), z.array(rungSchema).min(1, { error: 'ladder needs at least one rung' }).max(6, { error: 'ladder has at most 6 rungs' })], {
        error: 'ladder must be "auto" or a list of 1 to 6 rungs ({height, bitrate?} or {passthrough: true})',
      })
      .default('auto'),
    /** What the encoder is set to (`-hls_time`); the deadline is measured against each segment's own duration. */
    segment_duration: z.number({ error: 'segment_duration must be a number of seconds' }).int({ error: 'segment_duration must be whole seconds' }).min(1, { error: 'segment_duration must be 1 to 10 seconds' }).max(10, { error: 'segment_duration must be 1 to 10 seconds' }).default(2),
    /** Segments in the live playlists (the DVR window players can seek in). */
    window_size: z.number({ error: 'window_size must be a number of segments' }).int({ error: 'window_size must be a whole number' }).min(3, { error: 'window_size must be 3 to 60 segments' }).max(60, { error: 'window_size must be 3 to 60 segments' }).default(6),
    /**
     * A segment is due this many of its own durations after it arrived; later, it is published as
     * a gap. 1.5 keeps glass-to-glass latency bounded while absorbing one slow encode.
     */
    deadline_factor: z.number({ error: 'deadline_factor must be a number' }).min(1, { error: 'deadline_factor must be 1 to 10' }).max(10, { error: 'deadline_factor must be 1 to 10' }).default(1.5),
    /** Keep every segment, so the event plays as a VOD when it ends; false keeps only the live window. */
    archive: z.boolean({ error: 'archive must be true or false' }).default(true),
  })
  .refine((c) => c.ladder === 'auto' || new Set(c.ladder.map(rungName)).size === c.ladder.length, { error: 'ladder: two rungs have the same name (or the same height)' })
  .refine((c) => c.ladder === 'auto' || c.ladder.filter((r) => r.passthrough).length <= 1, { error: 'ladder: at most one passthrough rung' });

export type ChannelInput = z.infer<typeof channelInputSchema>;
export type RungInput = z.infer<typeof rungSchema>;

export function rungName(r: RungInput): string {
  return r.name ?? (r.passthrough ? 'source' : `${r.height}p`);
}
