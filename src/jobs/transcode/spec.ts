/**
 * The input of a `transcode` job, validated by the API on submit and again by the worker on
 * dequeue. DESIGN.md's two smallest inputs must keep validating as this grows: new fields are
 * optional, and anything unknown is rejected by name (strict objects) so that a typo such as
 * "heigth" fails loudly instead of being ignored.
 */
import { z } from 'zod';

export const FILE_ID_PATTERN = /^file_[0-9a-z]{26}$/;

/** x264's presets, slowest last. */
export const X264_PRESETS = [
  'ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow', 'placebo',
] as const;
export type X264Preset = (typeof X264_PRESETS)[number];

const BITRATE_PATTERN = /^[1-9][0-9]*(\.[0-9]+)?[kM]$/;

/** "2500k" → 2_500_000, "5M" → 5_000_000 (decimal units, as ffmpeg reads them). */
export function parseBitrate(value: string): number {
  const unit = value.endsWith('M') ? 1_000_000 : 1_000;
  return Math.round(Number(value.slice(0, -1)) * unit);
}

const bitrateSchema = (field: string) =>
  z
    .string({ error: `${field} must be a string like "2500k" or "5M"` })
    .regex(BITRATE_PATTERN, { error: `${field} must look like "2500k" or "5M" (a number followed by k or M)` });

// Even: 4:2:0 chroma is subsampled by two, so H.264 in 4:2:0 cannot code an odd height.
const heightSchema = z
  .number({ error: 'height must be a number of pixels' })
  .int({ error: 'height must be a whole number of pixels' })
  .min(16, { error: 'height must be at least 16' })
  .max(4320, { error: 'height must be at most 4320 (8K)' })
  .refine((h) => h % 2 === 0, { error: 'height must be even (4:2:0 video needs even dimensions)' });

// Only H.264 today; hevc/av1 join when 8K output (beyond NVENC H.264's 4096 px) is built.
const videoCodecSchema = z.enum(['h264'], { error: 'codec must be "h264" (the only codec supported so far)' });

const sourceSchema = z.strictObject(
  {
    file: z
      .string({ error: 'source.file must be a file id string' })
      .regex(FILE_ID_PATTERN, { error: 'source.file must be a file id: "file_" followed by 26 lowercase letters or digits' }),
  },
  {
    // Only the object's own type errors; unknown keys keep zod's message, which names the key.
    error: (issue) => {
      if (issue.code !== 'invalid_type') return undefined;
      return issue.input === undefined ? 'source is required: {"file": "<file id>"}' : 'source must be an object: {"file": "<file id>"}';
    },
  },
);

const ladderRungSchema = z.strictObject({
  height: heightSchema,
  bitrate: bitrateSchema('bitrate').optional(),
  codec: videoCodecSchema.optional(),
});

export const transcodeInputSchema = z
  .strictObject({
    source: sourceSchema,
    /** One MP4 rendition at this height (never upscaled). */
    height: heightSchema.optional(),
    /** Several renditions: "auto" derives them from the source. Not built yet (see unsupportedFeatures). */
    ladder: z
      .union([z.literal('auto'), z.array(ladderRungSchema).min(1).max(10)], {
        error: 'ladder must be "auto" or a list of 1 to 10 {height, bitrate?, codec?}',
      })
      .optional(),
    formats: z
      .array(z.enum(['hls', 'mp4'], { error: 'formats may contain "hls" and "mp4"' }))
      .min(1, { error: 'formats must not be empty' })
      .refine((f) => new Set(f).size === f.length, { error: 'formats must not repeat a format' })
      .optional(),
    codec: videoCodecSchema.optional(),
    /** Target average video bitrate; without it the encoder runs constant quality (crf). */
    video_bitrate: bitrateSchema('video_bitrate').optional(),
    crf: z
      .number({ error: 'crf must be a number' })
      .int({ error: 'crf must be a whole number' })
      .min(0, { error: 'crf must be between 0 and 51' })
      .max(51, { error: 'crf must be between 0 and 51' })
      .optional(),
    preset: z.enum(X264_PRESETS, { error: `preset must be one of ${X264_PRESETS.join(', ')}` }).optional(),
    audio: z.strictObject({ bitrate: bitrateSchema('audio.bitrate').optional() }).optional(),
    timeout_seconds: z
      .number({ error: 'timeout_seconds must be a number' })
      .int({ error: 'timeout_seconds must be a whole number' })
      .min(1, { error: 'timeout_seconds must be at least 1' })
      .max(86_400, { error: 'timeout_seconds must be at most 86400 (one day)' })
      .optional(),
  })
  .refine((i) => i.height !== undefined || i.ladder !== undefined, {
    error: 'give "height" (one MP4 rendition) or "ladder" (several renditions)',
  })
  // Rejected rather than guessed at: which one wins is a decision for when ladders exist, and
  // accepting a combination later is compatible while forbidding it later would not be.
  .refine((i) => i.height === undefined || i.ladder === undefined, {
    error: 'give either "height" or "ladder", not both',
  })
  .refine((i) => i.crf === undefined || i.video_bitrate === undefined, {
    error: 'give either "crf" (constant quality) or "video_bitrate", not both',
  });

export type TranscodeInput = z.output<typeof transcodeInputSchema>;

/**
 * What a valid input asks for that this worker cannot produce yet (today: one MP4 rendition).
 * The job fails with these names instead of silently doing less.
 */
export function unsupportedFeatures(spec: TranscodeInput): string[] {
  const missing: string[] = [];
  if (spec.ladder !== undefined) missing.push('ladder');
  if (spec.formats?.includes('hls')) missing.push('hls');
  return missing;
}
