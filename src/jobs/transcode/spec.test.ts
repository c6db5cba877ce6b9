import { describe, expect, it } from 'vitest';
import { outputFormats, parseBitrate, segmentSeconds, transcodeInputSchema, unsupportedFeatures } from './spec.js';

const FILE = 'file_01hzy3k8m9x2v7q4w5e6r7t8y9';

/** "path: message" for each issue, as the API would show them. */
function problems(input: unknown): string[] {
  const result = transcodeInputSchema.safeParse(input);
  if (result.success) return [];
  return result.error.issues.map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message));
}

describe('transcode input schema', () => {
  it("accepts DESIGN.md's smallest single-rendition input", () => {
    const input = { source: { file: FILE }, height: 720 };
    expect(transcodeInputSchema.parse(input)).toEqual(input);
  });

  it("accepts DESIGN.md's smallest ladder input, and nothing in it is unsupported", () => {
    const input = transcodeInputSchema.parse({ source: { file: FILE }, ladder: 'auto', formats: ['hls', 'mp4'] });
    expect(unsupportedFeatures(input)).toEqual([]);
    expect(unsupportedFeatures(transcodeInputSchema.parse({ source: { file: FILE }, height: 720, formats: ['mp4'] }))).toEqual([]);
  });

  it('applies format and segment defaults outside the schema, so the parsed input is what was sent', () => {
    const ladder = transcodeInputSchema.parse({ source: { file: FILE }, ladder: 'auto' });
    expect(ladder).toEqual({ source: { file: FILE }, ladder: 'auto' });
    expect([outputFormats(ladder), segmentSeconds(ladder)]).toEqual([['hls'], 4]);
    expect(outputFormats(transcodeInputSchema.parse({ source: { file: FILE }, height: 720 }))).toEqual(['mp4']);
    expect(segmentSeconds(transcodeInputSchema.parse({ source: { file: FILE }, ladder: 'auto', segment_duration: 2 }))).toBe(2);
  });

  it('takes HEVC and AV1 ladders, segment durations of 1 to 10 s and EBU R128 loudness', () => {
    const input = {
      source: { file: FILE }, ladder: [{ height: 2160, codec: 'hevc' }, { height: 1080, codec: 'av1' }], codec: 'h264',
      segment_duration: 10, audio: { bitrate: '160k', loudness: 'ebu-r128' },
    };
    expect(transcodeInputSchema.parse(input)).toEqual(input);
    const ladder = { source: { file: FILE }, ladder: 'auto' };
    expect(problems({ ...ladder, segment_duration: 11 })).toEqual(['segment_duration: segment_duration must be between 1 and 10 seconds']);
    expect(problems({ ...ladder, segment_duration: 2.5 })).toEqual(['segment_duration: segment_duration must be a whole number of seconds']);
    expect(problems({ ...ladder, codec: 'vp9' })).toEqual(['codec: codec must be "h264", "hevc" or "av1"']);
    expect(problems({ ...ladder, audio: { loudness: 'atsc' } })).toEqual([
      'audio.loudness: audio.loudness must be "ebu-r128" (EBU R128: -23 LUFS, true peak -1 dBTP)',
    ]);
    expect(problems({ source: { file: FILE }, height: 720, segment_duration: 4 })).toEqual([
      'segment_duration: segment_duration applies to HLS ladders: give it with "ladder"',
    ]);
  });

  it('names the valid combinations no planner makes yet', () => {
    const named = (input: unknown) => unsupportedFeatures(transcodeInputSchema.parse(input));
    expect(named({ source: { file: FILE }, height: 720, formats: ['hls'] })).toEqual([
      'hls without a ladder (give "ladder": [{"height": …}] for one HLS rendition)',
    ]);
    expect(named({ source: { file: FILE }, height: 720, audio: { loudness: 'ebu-r128' } })).toEqual([
      'audio.loudness with "height" (it applies to ladders so far)',
    ]);
    expect(named({ source: { file: FILE }, ladder: 'auto', crf: 20, formats: ['mp4'] })).toEqual([
      'crf with a ladder (give "bitrate" per rung)', 'a ladder without "hls" in formats',
    ]);
    expect(named({ source: { file: FILE }, ladder: 'auto', video_bitrate: '3M' })).toEqual(['video_bitrate with a ladder (give "bitrate" per rung)']);
  });

  it('accepts every optional field', () => {
    const input = {
      source: { file: FILE },
      height: 1080,
      formats: ['mp4'],
      codec: 'h264',
      crf: 23,
      preset: 'medium',
      audio: { bitrate: '96k' },
      timeout_seconds: 600,
    };
    expect(transcodeInputSchema.parse(input)).toEqual(input);
    const ladder = { source: { file: FILE }, ladder: [{ height: 1080, bitrate: '5M', codec: 'h264' }, { height: 480 }] };
    expect(transcodeInputSchema.parse(ladder)).toEqual(ladder);
    expect(problems({ source: { file: FILE }, height: 720, video_bitrate: '2500k' })).toEqual([]);
  });

  it('says that source is missing', () => {
    expect(problems({ height: 720 })).toEqual(['source: source is required: {"file": "<file id>"}']);
  });

  it('says that the height must be even, and where the bounds are', () => {
    expect(problems({ source: { file: FILE }, height: 721 })).toEqual([
      'height: height must be even (4:2:0 video needs even dimensions)',
    ]);
    expect(problems({ source: { file: FILE }, height: 8 })).toEqual(['height: height must be at least 16']);
    expect(problems({ source: { file: FILE }, height: 8640 })).toEqual(['height: height must be at most 4320 (8K)']);
    expect(problems({ source: { file: FILE }, height: 720.5 })).toEqual(['height: height must be a whole number of pixels']);
    expect(problems({ source: { file: FILE }, ladder: [{ height: 719 }] })).toEqual([
      'ladder.0.height: height must be even (4:2:0 video needs even dimensions)',
    ]);
  });

  it('says what is wrong with a timeout or a chunk size', () => {
    const at = (extra: Record<string, unknown>) => problems({ source: { file: FILE }, height: 720, ...extra });
    expect(at({ timeout_seconds: 0 })).toEqual(['timeout_seconds: timeout_seconds must be at least 1']);
    expect(at({ timeout_seconds: 90_000 })).toEqual(['timeout_seconds: timeout_seconds must be at most 86400 (one day)']);
    expect(at({ timeout_seconds: 'soon' })).toEqual(['timeout_seconds: timeout_seconds must be a number']);
    expect(at({ chunk_seconds: 1.5 })).toEqual(['chunk_seconds: chunk_seconds must be a whole number']);
    expect(at({ chunk_seconds: 7200 })).toEqual(['chunk_seconds: chunk_seconds must be at most 3600']);
  });

  it('names unknown keys', () => {
    expect(problems({ source: { file: FILE }, heigth: 720, height: 720 })).toEqual(['Unrecognized key: "heigth"']);
    expect(problems({ source: { file: FILE, url: 'http://x' }, height: 720 })).toEqual(['source: Unrecognized key: "url"']);
  });

  it('rejects a malformed file id', () => {
    expect(problems({ source: { file: 'file_ABC' }, height: 720 })).toEqual([
      'source.file: source.file must be a file id: "file_" followed by 26 lowercase letters or digits',
    ]);
    expect(problems({ source: { file: `${FILE}/../x` }, height: 720 })).toHaveLength(1);
  });

  it('needs height or ladder, not both', () => {
    expect(problems({ source: { file: FILE } })).toEqual(['give "height" (one MP4 rendition) or "ladder" (several renditions)']);
    expect(problems({ source: { file: FILE }, height: 720, ladder: 'auto' })).toEqual([
      'give either "height" or "ladder", not both',
    ]);
  });

  it('rejects bad optional values with readable messages', () => {
    const base = { source: { file: FILE }, height: 720 };
    expect(problems({ ...base, codec: 'hevc' })).toEqual([
      'codec: with "height" (one MP4 rendition) codec must be "h264"; "hevc" and "av1" are made for ladders only so far',
    ]);
    expect(problems({ ...base, crf: 52 })).toEqual(['crf: crf must be between 0 and 51']);
    expect(problems({ ...base, preset: 'turbo' })[0]).toMatch(/^preset: preset must be one of ultrafast, .*veryslow/);
    expect(problems({ ...base, video_bitrate: '2500' })).toEqual([
      'video_bitrate: video_bitrate must look like "2500k" or "5M" (a number followed by k or M)',
    ]);
    expect(problems({ ...base, formats: ['mp4', 'mp4'] })).toEqual(['formats: formats must not repeat a format']);
    expect(problems({ ...base, formats: ['dash'] })).toEqual(['formats.0: formats may contain "hls" and "mp4"']);
    expect(problems({ ...base, crf: 20, video_bitrate: '5M' })).toEqual([
      'give either "crf" (constant quality) or "video_bitrate", not both',
    ]);
  });
});

describe('parseBitrate', () => {
  it('reads k and M as decimal units', () => {
    expect(parseBitrate('2500k')).toBe(2_500_000);
    expect(parseBitrate('5M')).toBe(5_000_000);
    expect(parseBitrate('1.5M')).toBe(1_500_000);
  });
});
