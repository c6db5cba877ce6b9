import { describe, expect, it } from 'vitest';
import { parseSegmentProbe } from './segment-probe.js';

// ffprobe 5.1 on the second 2 s MPEG-TS segment ffmpeg's hls muxer cut from chaplin.mp4 (x264 + AAC).
const RECORDED = {
  programs: [],
  streams: [
    { codec_name: 'h264', profile: 'High', codec_type: 'video', width: 640, height: 360, level: 30, avg_frame_rate: '25/1' },
    { codec_name: 'aac', profile: 'LC', codec_type: 'audio', avg_frame_rate: '0/0' },
  ],
  format: { start_time: '5.241633', duration: '1.998367', size: '178976' },
};

describe('parseSegmentProbe', () => {
  it('reads size, codec, profile and level, where the timeline starts, and the bytes', () => {
    expect(parseSegmentProbe(RECORDED)).toEqual({ width: 640, height: 360, videoCodec: 'h264', profile: 'High', level: 30, audioCodec: 'aac', start: 5.241633, duration: 1.998367, fps: 25, bytes: 178976 });
  });
  it('refuses a segment without video', () => {
    expect(() => parseSegmentProbe({ streams: [RECORDED.streams[1]], format: RECORDED.format })).toThrow(/no video stream/);
  });
  it('leaves unknown level and frame rate unknown', () => {
    const p = parseSegmentProbe({ streams: [{ ...RECORDED.streams[0], level: -99, avg_frame_rate: '0/0' }], format: {} });
    expect([p.level, p.fps, p.audioCodec, p.start]).toEqual([null, 0, null, 0]);
  });
});
