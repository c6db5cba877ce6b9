import { describe, expect, it } from 'vitest';
import { inputHardeningArgs } from '../../media/input-hardening.js';
import { decodeArgs, encodeArgs, evenSize, frameRateFraction } from './video-commands.js';

const HARDENED = inputHardeningArgs();
const GLOBAL = ['-hide_banner', '-nostdin', '-loglevel', 'level+info', '-benchmark', '-nostats'];
const H264 = [
  '-c:v', 'libx264', '-preset', 'medium', '-crf', '18', '-profile:v', 'high', '-pix_fmt', 'yuv420p',
  '-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709', '-color_range', 'tv',
];

describe('decodeArgs', () => {
  it('decodes the chosen stream, hardened, scaled to the model size, every frame once, as raw RGB on stdout', () => {
    expect(decodeArgs({ source: '/w/in.webm', videoStream: 1, width: 224, height: 224 })).toEqual([
      ...GLOBAL,
      ...HARDENED,
      '-i', '/w/in.webm',
      '-map', '0:1',
      '-vf', 'scale=224:224:flags=lanczos',
      '-fps_mode', 'passthrough',
      '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1',
    ]);
  });
});

describe('encodeArgs', () => {
  const base = { source: '/w/in.mp4', dest: '/w/out.mp4', width: 448, height: 256, frameRate: '30000/1001', metadataArgs: ['-metadata', 'comment=AI generated'] };

  it('reads raw RGB frames from stdin and the source’s audio, and writes H.264 + AAC with the metadata last', () => {
    expect(encodeArgs({ ...base, audioStream: 1 })).toEqual([
      ...GLOBAL, '-y',
      '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', '448x256', '-framerate', '30000/1001', '-i', 'pipe:0',
      ...HARDENED, '-i', '/w/in.mp4',
      '-map', '0:v',
      '-map', '1:1',
      '-map_metadata', '-1',
      '-vf', 'scale=out_color_matrix=bt709:out_range=tv,format=yuv420p',
      '-fps_mode', 'passthrough',
      ...H264,
      '-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-ar', '48000', '-af', 'aresample=async=1',
      '-movflags', '+faststart',
      '-metadata', 'comment=AI generated',
      '-f', 'mp4', '/w/out.mp4',
    ]);
  });

  it('merges the caller’s -movflags into the one that asks for +faststart (ffmpeg keeps only the last)', () => {
    const args = encodeArgs({ ...base, audioStream: null, metadataArgs: ['-metadata', 'AIGC={}', '-movflags', '+use_metadata_tags', '-movflags', 'frag_keyframe'] });
    expect(args.slice(-7)).toEqual(['-movflags', '+faststart+use_metadata_tags+frag_keyframe', '-metadata', 'AIGC={}', '-f', 'mp4', '/w/out.mp4']);
    expect(args.filter((a) => a === '-movflags')).toHaveLength(1);
  });

  it('does not open the source at all when it has no audio, and crops an odd model output to even', () => {
    expect(encodeArgs({ ...base, width: 225, height: 101, audioStream: null, metadataArgs: [] })).toEqual([
      ...GLOBAL, '-y',
      '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', '225x101', '-framerate', '30000/1001', '-i', 'pipe:0',
      '-map', '0:v',
      '-map_metadata', '-1',
      '-vf', 'crop=224:100:0:0,scale=out_color_matrix=bt709:out_range=tv,format=yuv420p',
      '-fps_mode', 'passthrough',
      ...H264,
      '-an',
      '-movflags', '+faststart',
      '-f', 'mp4', '/w/out.mp4',
    ]);
  });
});

describe('evenSize', () => {
  it('drops the last column or row of an odd size', () => {
    expect(evenSize({ width: 225, height: 101 })).toEqual({ width: 224, height: 100 });
    expect(evenSize({ width: 224, height: 100 })).toEqual({ width: 224, height: 100 });
  });
});

describe('frameRateFraction', () => {
  it('recovers the exact fractions ffmpeg reported', () => {
    expect(frameRateFraction({ frameRate: 24, frameCount: null }, 1)).toBe('24/1');
    expect(frameRateFraction({ frameRate: 30000 / 1001, frameCount: 150 }, 5.055)).toBe('30000/1001');
    expect(frameRateFraction({ frameRate: 24000 / 1001, frameCount: null }, 5)).toBe('24000/1001');
    expect(frameRateFraction({ frameRate: 12.5, frameCount: null }, 5)).toBe('25/2');
  });

  it('comes within a part per million of a variable-rate average (fire2_rotate180.mp4: 750000/71393)', () => {
    const rate = 750000 / 71393;
    const [num, den] = frameRateFraction({ frameRate: rate, frameCount: 25 }, 2.38)!.split('/').map(Number);
    expect(den).toBeLessThanOrEqual(1001);
    expect(Math.abs(num! / den! - rate) / rate).toBeLessThan(1e-6);
  });

  it('falls back to frames over duration, and gives null when neither is known', () => {
    expect(frameRateFraction({ frameRate: 0, frameCount: 50 }, 2)).toBe('25/1');
    expect(frameRateFraction({ frameRate: 0, frameCount: null }, 2)).toBeNull();
    expect(frameRateFraction({ frameRate: 0, frameCount: 50 }, 0)).toBeNull();
  });
});
