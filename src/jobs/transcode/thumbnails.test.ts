import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FfmpegError, probeMedia, runFfmpeg } from '../../media/ffmpeg.js';
import { inputHardeningArgs } from '../../media/input-hardening.js';
import { buildSprite, posterArgs, posterTime, spriteVtt, thumbnailFramesArgs, thumbnailInterval } from './thumbnails.js';
import { VIDEO } from '../../../test/helpers/assets.js';

const GLOBAL = ['-hide_banner', '-nostdin', '-y', '-loglevel', 'level+info', '-benchmark'];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'thumbnails-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('posterArgs', () => {
  it('seeks before the input, maps the video stream only and scales to the display aspect', () => {
    expect(posterArgs('/in/clip.mov', '/out/poster.jpg', { atSeconds: 2.5, height: 720, videoStream: 1 })).toEqual([
      ...GLOBAL,
      '-ss', '2.500',
      ...inputHardeningArgs(),
      '-i', '/in/clip.mov',
      '-map', '0:1', '-an', '-sn', '-dn',
      '-frames:v', '1',
      '-vf', 'scale=2*round(720*dar/2):720,setsar=1',
      '-q:v', '3',
      '-f', 'image2', '-update', '1',
      '/out/poster.jpg',
    ]);
  });
});

describe('thumbnailFramesArgs', () => {
  it('takes one frame per interval, from the first frame on, into a numbered pattern', () => {
    expect(thumbnailFramesArgs('/in/clip.mov', '/out/thumbs', { intervalSeconds: 5, width: 160, videoStream: 0 })).toEqual([
      ...GLOBAL,
      ...inputHardeningArgs(),
      '-i', '/in/clip.mov',
      '-map', '0:0', '-an', '-sn', '-dn',
      '-vf', 'fps=1/5:round=up,scale=160:2*round(160/dar/2),setsar=1',
      '-q:v', '5',
      '-f', 'image2',
      '/out/thumbs/thumb_%05d.jpg',
    ]);
  });
});

describe('posterTime', () => {
  it.each([
    [0, 0], [0.5, 0], [0.999, 0], [1, 0.1], [5.05, 0.505], [42, 4.2], [100, 10], [7200, 10],
  ])('%s s → %s s', (duration, at) => {
    expect(posterTime(duration)).toBe(at);
  });

  it('rejects what is not a duration', () => {
    expect(() => posterTime(Number.NaN)).toThrow(RangeError);
    expect(() => posterTime(-1)).toThrow(RangeError);
  });
});

describe('thumbnailInterval', () => {
  it.each([
    [0.4, 1], [5, 1], [100, 1], [100.5, 2], [200, 2], [201, 5], [500, 5], [1000, 10], [1500, 15],
    [3000, 30], [5400, 60], [7200, 120], [12_001, 300], [60_000, 600], [60_001, 1200], [86_400, 1200],
  ])('%s s → every %s s', (duration, interval) => {
    expect(thumbnailInterval(duration)).toBe(interval);
    expect(Math.ceil(duration / interval)).toBeLessThanOrEqual(100);
  });
});

describe('spriteVtt', () => {
  const opts = { columns: 2, intervalSeconds: 5, durationSeconds: 12.345, spriteName: 'sprite.jpg', tile: { width: 160, height: 90 } };

  it('writes one cue per tile, the last ending at the duration', () => {
    expect(spriteVtt(3, opts)).toEqual(
      'WEBVTT\n\n' +
        '00:00:00.000 --> 00:00:05.000\nsprite.jpg#xywh=0,0,160,90\n\n' +
        '00:00:05.000 --> 00:00:10.000\nsprite.jpg#xywh=160,0,160,90\n\n' +
        '00:00:10.000 --> 00:00:12.345\nsprite.jpg#xywh=0,90,160,90\n',
    );
  });

  it('writes hours, and refuses cues that would start after the end', () => {
    expect(spriteVtt(1, { ...opts, durationSeconds: 3723.5 }).split('\n')[2]).toBe('00:00:00.000 --> 01:02:03.500');
    expect(() => spriteVtt(4, opts)).toThrow(RangeError);
  });
});

describe('buildSprite', () => {
  async function frames(n: number, width = 160, height = 90): Promise<string[]> {
    const sub = await mkdtemp(join(dir, 'frames-'));
    return Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const file = join(sub, `thumb_${String(i + 1).padStart(5, '0')}.jpg`);
        const background = { r: 40 * i, g: 200 - 40 * i, b: 90 };
        await writeFile(file, await sharp({ create: { width, height, channels: 3, background } }).jpeg().toBuffer());
        return file;
      }),
    );
  }

  it('lays 3 frames out in a grid and writes their VTT', async () => {
    const sprite = await buildSprite(await frames(3), { columns: 2, intervalSeconds: 5, durationSeconds: 12.345, spriteName: 'sprite.jpg' });
    expect(sprite.tile).toEqual({ width: 160, height: 90 });
    expect(sprite.rows).toBe(2);
    expect(await sharp(sprite.image).metadata()).toMatchObject({ format: 'jpeg', width: 320, height: 180 });
    expect(sprite.vtt).toEqual(
      'WEBVTT\n\n' +
        '00:00:00.000 --> 00:00:05.000\nsprite.jpg#xywh=0,0,160,90\n\n' +
        '00:00:05.000 --> 00:00:10.000\nsprite.jpg#xywh=160,0,160,90\n\n' +
        '00:00:10.000 --> 00:00:12.345\nsprite.jpg#xywh=0,90,160,90\n',
    );
  });

  it('defaults to 10 columns, no wider than the frame count', async () => {
    const few = await buildSprite(await frames(3), { intervalSeconds: 1, durationSeconds: 3, spriteName: 's.jpg' });
    expect(await sharp(few.image).metadata()).toMatchObject({ width: 480, height: 90 });
    const many = await buildSprite(await frames(12, 16, 9), { intervalSeconds: 1, durationSeconds: 12, spriteName: 's.jpg' });
    expect(many.rows).toBe(2);
    expect(await sharp(many.image).metadata()).toMatchObject({ width: 160, height: 18 });
  });

  it('leaves out a frame that starts at or after the duration', async () => {
    const sprite = await buildSprite(await frames(3), { intervalSeconds: 1, durationSeconds: 2, spriteName: 's.jpg' });
    expect(sprite.vtt.match(/-->/g)).toHaveLength(2);
    expect(await sharp(sprite.image).metadata()).toMatchObject({ width: 320, height: 90 });
  });

  it('refuses no frames, and frames of different sizes', async () => {
    await expect(buildSprite([], { intervalSeconds: 1, durationSeconds: 2, spriteName: 's.jpg' })).rejects.toThrow('at least one frame');
    const mixed = [...(await frames(1)), ...(await frames(1, 120, 90))];
    await expect(buildSprite(mixed, { intervalSeconds: 1, durationSeconds: 2, spriteName: 's.jpg' })).rejects.toThrow('differ in size');
  });
});

/** [start, end] of each cue, in milliseconds. */
function cueTimes(vtt: string): Array<[number, number]> {
  const t = (s: string) => s.split(/[:.]/).map(Number).reduce((acc, n, i) => (i < 3 ? acc * 60 + n : acc * 1000 + n), 0);
  return [...vtt.matchAll(/^(\S+) --> (\S+)$/gm)].map((m) => [t(m[1]!), t(m[2]!)]);
}

describe('on real media', () => {
  // Display aspect of each file's video after rotation: flower 960×540, h263 352×288 with SAR 63:44
  // (7:4 on screen), fire2 1280×720 stored upside down (rotation 180).
  it.each([
    ['flower.mp4', 16 / 9],
    ['h263_amrnb.3gp', (352 * 63) / (44 * 288)],
    ['fire2_rotate180.mp4', 16 / 9],
  ])('%s: poster, thumbnails and sprite', async (name, dar) => {
    const input = join(VIDEO, name);
    const probe = await probeMedia(input);
    const videoStream = probe.video!.index;
    const duration = probe.durationSeconds;
    const out = await mkdtemp(join(dir, 'real-'));

    const poster = join(out, 'poster.jpg');
    await runFfmpeg(posterArgs(input, poster, { atSeconds: posterTime(duration), height: 240, videoStream }));
    expect(await sharp(poster).metadata()).toMatchObject({ format: 'jpeg', height: 240, width: 2 * Math.round((240 * dar) / 2) });

    const intervalSeconds = thumbnailInterval(duration);
    const thumbs = join(out, 'thumbs');
    await mkdir(thumbs);
    await runFfmpeg(thumbnailFramesArgs(input, thumbs, { intervalSeconds, width: 160, videoStream }));
    const frames = (await readdir(thumbs)).sort().map((f) => join(thumbs, f));
    expect(frames).toHaveLength(Math.ceil(duration / intervalSeconds));

    const sprite = await buildSprite(frames, { columns: 4, intervalSeconds, durationSeconds: duration, spriteName: 'sprite.jpg' });
    expect(sprite.tile).toEqual({ width: 160, height: 2 * Math.round(160 / dar / 2) });
    const columns = Math.min(4, frames.length);
    expect(sprite.rows).toBe(Math.ceil(frames.length / columns));
    expect(await sharp(sprite.image).metadata()).toMatchObject({ width: columns * sprite.tile.width, height: sprite.rows * sprite.tile.height });
    const cues = cueTimes(sprite.vtt);
    expect(cues).toHaveLength(frames.length);
    expect(cues[0]![0]).toBe(0);
    cues.slice(1).forEach(([start], i) => expect(start).toBe(cues[i]![1]));
    expect(cues.at(-1)![1]).toBe(Math.round(duration * 1000));
  });

  it('turns the upside-down fire2 poster the right way up', async () => {
    const input = join(VIDEO, 'fire2_rotate180.mp4');
    const args = posterArgs(input, join(dir, 'fire-upright.jpg'), { atSeconds: 1, height: 90, videoStream: 0 });
    await runFfmpeg(args);
    const raw = [...args.slice(0, args.indexOf('-i')), '-noautorotate', ...args.slice(args.indexOf('-i'), -1), join(dir, 'fire-stored.jpg')];
    await runFfmpeg(raw);
    const pixels = (img: ReturnType<typeof sharp>) => img.greyscale().raw().toBuffer();
    const upright = await pixels(sharp(join(dir, 'fire-upright.jpg')));
    const distance = (b: Buffer) => b.reduce((sum, v, i) => sum + Math.abs(v - upright[i]!), 0) / b.length;
    const turned = distance(await pixels(sharp(join(dir, 'fire-stored.jpg')).rotate(180)));
    const asStored = distance(await pixels(sharp(join(dir, 'fire-stored.jpg'))));
    expect(turned).toBeLessThan(3);
    expect(asStored).toBeGreaterThan(4 * turned);
  });

  it('fails clearly on a file without video', async () => {
    const audio = join(dir, 'sine.m4a');
    await runFfmpeg(['-f', 'lavfi', '-i', 'sine=d=2', '-c:a', 'aac', audio]);
    const thumbs = join(dir, 'no-thumbs');
    await mkdir(thumbs);
    // With -loglevel level+… every log line starts with "[level]", which fluent-ffmpeg leaves out
    // of its error message: the reason is in the error's stderr tail.
    const failure = (args: string[]) => runFfmpeg(args).then(() => expect.fail('ffmpeg succeeded'), (e: unknown) => e);
    const reasons = async (args: string[]) => {
      const err = await failure(args);
      expect(err).toBeInstanceOf(FfmpegError);
      return (err as FfmpegError).stderrTail.join('\n');
    };
    expect(await reasons(posterArgs(audio, join(dir, 'none.jpg'), { atSeconds: 0.2, height: 240, videoStream: 0 }))).toContain(
      '[error] Output file #0 does not contain any stream',
    );
    expect(await reasons(thumbnailFramesArgs(audio, thumbs, { intervalSeconds: 1, width: 160, videoStream: 0 }))).toContain(
      '[error] Output file #0 does not contain any stream',
    );
    expect(await reasons(posterArgs(audio, join(dir, 'none.jpg'), { atSeconds: 0, height: 240, videoStream: 1 }))).toContain(
      "Stream map '0:1' matches no streams",
    );
    expect(await readdir(thumbs)).toEqual([]);
  });
});
