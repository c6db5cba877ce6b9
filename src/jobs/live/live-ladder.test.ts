import { describe, expect, it } from 'vitest';
import type { SegmentProbe } from '../../media/segment-probe.js';
import { resolveLiveLadder, sourceCodecs } from './live-ladder.js';
import { channelInputSchema } from './spec.js';

const probe = (over: Partial<SegmentProbe> = {}): SegmentProbe => ({ width: 1920, height: 1080, videoCodec: 'h264', profile: 'High', level: 40, audioCodec: 'aac', start: 1.4, duration: 2, fps: 30, bytes: 1_250_000, ...over });

describe('resolveLiveLadder', () => {
  it('auto: the source passed through, then up to three standard sizes below it', () => {
    const { rungs, dropped } = resolveLiveLadder('auto', probe());
    expect(rungs.map((r) => [r.name, r.width, r.height, r.passthrough])).toEqual([
      ['source', 1920, 1080, true],
      ['720p', 1280, 720, false],
      ['480p', 854, 480, false],
      ['360p', 640, 360, false],
    ]);
    expect(rungs[0]!.codecs).toBe('avc1.640028,mp4a.40.2');
    expect(dropped).toEqual([]);
  });

  it('auto on 8K HEVC: passthrough plus 4K, 1440p and 1080p encoded', () => {
    const { rungs } = resolveLiveLadder('auto', probe({ width: 7680, height: 4320, videoCodec: 'hevc', profile: 'Main 10', level: 183 }));
    expect(rungs.map((r) => r.name)).toEqual(['source', '2160p', '1440p', '1080p']);
    expect(rungs[0]!.codecs).toBe('hvc1.2.6.L183.B0,mp4a.40.2');
  });

  it('never upscales, never encodes above 4K, and says which rungs it dropped', () => {
    const ladder = channelInputSchema.parse({ ladder: [{ height: 2160 }, { height: 720, bitrate: '2M' }, { passthrough: true }] }).ladder;
    const { rungs, dropped } = resolveLiveLadder(ladder, probe());
    expect(rungs.map((r) => [r.name, r.bitrate])).toEqual([['source', 0], ['720p', 2_000_000]]);
    expect(dropped).toEqual(['2160p: 2160p is above the 1080p source (never upscaled)']);
    const eight = resolveLiveLadder(channelInputSchema.parse({ ladder: [{ height: 4320 }] }).ladder, probe({ width: 7680, height: 4320 }));
    expect(eight.dropped[0]).toMatch(/encoded only up to 2160p; pass the source through/);
  });

  it('codecs for the master: known profiles and levels only; a source without audio has none', () => {
    expect(sourceCodecs(probe({ profile: 'Main', level: 31 }))).toBe('avc1.4d001f');
    expect(sourceCodecs(probe({ profile: null }))).toBeNull();
    expect(sourceCodecs(probe({ videoCodec: 'av1' }))).toBeNull();
    expect(resolveLiveLadder('auto', probe({ audioCodec: null })).rungs[1]!.codecs).toBe('avc1.640028');
    expect(resolveLiveLadder('auto', probe({ audioCodec: 'opus' })).rungs[1]!.codecs).toBe('avc1.640028,mp4a.40.2'); // encoded to AAC
  });
});

describe('channelInputSchema', () => {
  it('makes a channel from nothing', () => {
    expect(channelInputSchema.parse({})).toEqual({ ladder: 'auto', segment_duration: 2, window_size: 6, deadline_factor: 1.5, archive: true });
  });

  it.each([
    [{ ladder: [] }, /at least one rung/],
    [{ ladder: [{ height: 720, passthrough: true }] }, /either a height/],
    [{ ladder: [{}] }, /either a height/],
    [{ ladder: [{ passthrough: true, bitrate: '5M' }] }, /keeps the source bitrate/],
    [{ ladder: [{ height: 721 }] }, /even/],
    [{ ladder: [{ height: 720 }, { height: 720 }] }, /same name/],
    [{ ladder: [{ passthrough: true }, { passthrough: true, name: 'b' }] }, /at most one passthrough/],
    [{ ladder: [{ height: 720, name: '../x' }] }, /rung name/],
    [{ segment_duration: 0 }, /1 to 10/],
    [{ segment_duration: 1.5 }, /whole/],
    [{ window_size: 2 }, /3 to 60/],
    [{ deadline_factor: 0.5 }, /1 to 10/],
    [{ archive: 'yes' }, /true or false/],
    [{ ladder: 'best' }, /ladder must be/],
    [{ name: '' }, /name must not be empty/],
    [{ extra: 1 }, /extra|Unrecognized/i],
  ])('refuses %j with a clear reason', (input, error) => {
    const r = channelInputSchema.safeParse(input);
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error!.issues)).toMatch(error);
  });
});
