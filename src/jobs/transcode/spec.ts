/**
 * The input of a `transcode` job, validated by the API on submit and again by the worker on
 * dequeue. DESIGN.md's two smallest inputs must keep validating as this grows: new fields are
 * optional, and anything unknown is rejected by name (strict objects) so that a typo such as
 * "heigth" fails loudly instead of being ignored.
 */
import { z } from 'zod';
import { FILE_ID_PATTERN, timeoutSecondsSchema, wholeNumber } from '../common-schemas.js';

export { FILE_ID_PATTERN };


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

export const bitrateSchema = (field: string) =>
  z
    .string({ error: `${field} must be a string like "2500k" or "5M"` })
    .regex(BITRATE_PATTERN, { error: `${field} must look like "2500k" or "5M" (a number followed by k or M)` });

// Even: 4:2:0 chroma is subsampled by two, so H.264 in 4:2:0 cannot code an odd height.
export const heightSchema = z
  .number({ error: 'height must be a number of pixels' })
  .int({ error: 'height must be a whole number of pixels' })
  .min(16, { error: 'height must be at least 16' })
  .max(4320, { error: 'height must be at most 4320 (8K)' })
  .refine((h) => h % 2 === 0, { error: 'height must be even (4:2:0 video needs even dimensions)' });

/** Video codecs a ladder rung can have. HEVC and AV1 also carry 8K, beyond NVENC H.264's 4096 px. */
export const VIDEO_CODECS = ['h264', 'hevc', 'av1'] as const;
export type VideoCodec = (typeof VIDEO_CODECS)[number];
const videoCodecSchema = z.enum(VIDEO_CODECS, { error: 'codec must be "h264", "hevc" or "av1"' });

/** HLS segment length when the input gives none: Apple's recommended 6 s is tuned for live; 4 s starts VOD sooner. */
export const DEFAULT_SEGMENT_SECONDS = 4;

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
    /** Several renditions: "auto" derives them from the source (ladder.ts), packaged as HLS with fMP4 segments. */
    ladder: z
      .union([z.literal('auto'), z.array(ladderRungSchema).min(1).max(10)], {
        error: 'ladder must be "auto" or a list of 1 to 10 {height, bitrate?, codec?}',
      })
      .optional(),
    formats: z
      .array(z.enum(['hls', 'mp4'], { error: 'formats may contain "hls" and "mp4"' }))
      .min(1, { error: 'formats must not be empty' })
      .refine((f) => new Set(f).size === f.length, { error: 'formats must not repeat a format' })
      .optional(), // default: outputFormats()
    /** Every rung without its own codec; "hevc" and "av1" need a ladder (see the refinement below). */
    codec: videoCodecSchema.optional(),
    /** HLS segment length in whole seconds (default DEFAULT_SEGMENT_SECONDS); keyframes are placed on it. */
    segment_duration: z
      .number({ error: 'segment_duration must be a number of seconds' })
      .int({ error: 'segment_duration must be a whole number of seconds' })
      .min(1, { error: 'segment_duration must be between 1 and 10 seconds' })
      .max(10, { error: 'segment_duration must be between 1 and 10 seconds' })
      .optional(),
    /** Target average video bitrate; without it the encoder runs constant quality (crf). */
    video_bitrate: bitrateSchema('video_bitrate').optional(),
    crf: z
      .number({ error: 'crf must be a number' })
      .int({ error: 'crf must be a whole number' })
      .min(0, { error: 'crf must be between 0 and 51' })
      .max(51, { error: 'crf must be between 0 and 51' })
      .optional(),
    preset: z.enum(X264_PRESETS, { error: `preset must be one of ${X264_PRESETS.join(', ')}` }).optional(),
    audio: z
      .strictObject({
        bitrate: bitrateSchema('audio.bitrate').optional(),
        /** EBU R128 loudness normalisation: -23 LUFS integrated, true peak at most -1 dBTP. */
        loudness: z.literal('ebu-r128', { error: 'audio.loudness must be "ebu-r128" (EBU R128: -23 LUFS, true peak -1 dBTP)' }).optional(),
      })
      .optional(),
    /** SSIM and PSNR of each rendition against the source (quality.ts); absent means false. Ladders only so far. */
    quality_report: z.boolean({ error: 'quality_report must be true or false' }).optional(),
    /** Split-and-stitch: encode in pieces of about this many seconds on any workers (longer sources split by themselves). */
    chunk_seconds: wholeNumber('chunk_seconds', 2, 3600).optional(),
    /** A poster and a thumbnail sprite with its WebVTT track; absent means true. Ladders only so far. */
    thumbnails: z.boolean({ error: 'thumbnails must be true or false' }).optional(),
    timeout_seconds: timeoutSecondsSchema.optional(),
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
  })
  // The single MP4 path (plan.ts, run.ts's output check) makes H.264 only; rejected at submit as
  // before rather than accepted and failed later.
  .refine((i) => i.height === undefined || i.codec === undefined || i.codec === 'h264', {
    path: ['codec'],
    error: 'with "height" (one MP4 rendition) codec must be "h264"; "hevc" and "av1" are made for ladders only so far',
  })
  .refine((i) => i.segment_duration === undefined || i.ladder !== undefined, {
    path: ['segment_duration'],
    error: 'segment_duration applies to HLS ladders: give it with "ladder"',
  });

export type TranscodeInput = z.output<typeof transcodeInputSchema>;

/**
 * The formats to make. Defaults are applied here rather than by the schema, so that a parsed
 * input stays exactly what the client sent: a ladder is for adaptive streaming, so HLS; a single
 * rendition is one MP4.
 */
export function outputFormats(spec: TranscodeInput): ('hls' | 'mp4')[] {
  return spec.formats ?? (spec.ladder !== undefined ? ['hls'] : ['mp4']);
}

export function segmentSeconds(spec: TranscodeInput): number {
  return spec.segment_duration ?? DEFAULT_SEGMENT_SECONDS;
}

/**
 * Valid combinations that no planner makes yet. The job fails with these names instead of
 * silently doing less. (A ladder's "mp4" format is left to the runner: see ladder.ts.)
 */
export function unsupportedFeatures(spec: TranscodeInput): string[] {
  const missing: string[] = [];
  if (spec.ladder === undefined) {
    if (spec.formats?.includes('hls')) missing.push('hls without a ladder (give "ladder": [{"height": …}] for one HLS rendition)');
    if (spec.audio?.loudness !== undefined) missing.push('audio.loudness with "height" (it applies to ladders so far)');
    if (spec.quality_report === true) missing.push('quality_report with "height" (it applies to ladders so far)');
    if (spec.thumbnails === true) missing.push('thumbnails with "height" (they come with ladders so far)');
    return missing;
  }
  if (spec.chunk_seconds !== undefined) missing.push('chunk_seconds with a ladder (one MP4 is split so far)');
  // Ladder rungs are capped bitrates, one per rung; a single quality or bitrate has no place yet.
  if (spec.crf !== undefined) missing.push('crf with a ladder (give "bitrate" per rung)');
  if (spec.video_bitrate !== undefined) missing.push('video_bitrate with a ladder (give "bitrate" per rung)');
  if (!outputFormats(spec).includes('hls')) missing.push('a ladder without "hls" in formats');
  return missing;
}
