import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { MediaProbe } from './media-probe.js';
import { parseFfprobeJson } from './parse-ffprobe.js';
import { VIDEO } from '../../test/helpers/assets.js';

const run = promisify(execFile);

/** The real ffprobe JSON for a clip, parsed. */
async function probe(name: string): Promise<MediaProbe> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-of', 'json', '-show_format', '-show_streams', path.join(VIDEO, name)]);
  return parseFfprobeJson(JSON.parse(stdout));
}

describe('parseFfprobeJson on real clips', () => {
  it('reads a display matrix of -180 as rotation 180 and keeps the display dimensions', async () => {
    expect(await probe('fire2_rotate180.mp4')).toEqual({
      formatName: 'mov,mp4,m4a,3gp,3g2,mj2',
      durationSeconds: 2.38,
      sizeBytes: 1783875,
      bitRate: 5996218,
      video: {
        index: 0,
        codec: 'h264',
        profile: 'Baseline',
        pixFmt: 'yuv420p',
        bitDepth: 8,
        width: 1280,
        height: 720,
        rotation: 180,
        sampleAspect: { num: 1, den: 1 },
        displayWidth: 1280,
        displayHeight: 720,
        frameRate: 750000 / 71393,
        // r_frame_rate is 90000/1 (the time base), avg about 10.5: timing is not constant.
        variableFrameRate: true,
        frameCount: 25,
      },
      audio: { index: 1, codec: 'aac', channels: 1, sampleRate: 48000 },
    });
  });

  it('applies a non-square sample aspect ratio to the display width', async () => {
    const p = await probe('h263_amrnb.3gp');
    expect(p.video).toEqual({
      index: 0,
      codec: 'h263',
      profile: null,
      pixFmt: 'yuv420p',
      bitDepth: 8,
      width: 352,
      height: 288,
      rotation: 0,
      sampleAspect: { num: 63, den: 44 },
      displayWidth: Math.round((352 * 63) / 44),
      displayHeight: 288,
      frameRate: 30,
      variableFrameRate: false,
      frameCount: 166,
    });
    expect(p.video?.displayWidth).toBe(504);
    expect(p.audio).toEqual({ index: 1, codec: 'amr_nb', channels: 1, sampleRate: 8000 });
  });

  it('gives audio null for a clip without an audio stream', async () => {
    const p = await probe('bug_video_640.mp4');
    expect(p.audio).toBeNull();
    expect(p.video).toMatchObject({ index: 0, codec: 'h264', profile: 'Main', width: 640, height: 360, displayWidth: 640, displayHeight: 360, frameRate: 30, frameCount: 203 });
  });

  it('takes the stream indexes from ffprobe when audio comes first', async () => {
    const p = await probe('friday.mp4');
    expect(p.audio).toEqual({ index: 0, codec: 'aac', channels: 2, sampleRate: 44100 });
    // No sample_aspect_ratio in this file: square pixels are assumed.
    expect(p.video).toMatchObject({ index: 1, codec: 'h264', width: 640, height: 480, sampleAspect: { num: 1, den: 1 }, displayWidth: 640, displayHeight: 480 });
  });

  it('reads HEVC with a full-range pixel format as 8-bit', async () => {
    const p = await probe('video-h265.mp4');
    expect(p).toMatchObject({ formatName: 'mov,mp4,m4a,3gp,3g2,mj2', durationSeconds: 10, sizeBytes: 1449927, bitRate: 1159941 });
    expect(p.video).toEqual({
      index: 0,
      codec: 'hevc',
      profile: 'Main',
      pixFmt: 'yuvj420p',
      bitDepth: 8,
      width: 1920,
      height: 1080,
      rotation: 0,
      sampleAspect: { num: 1, den: 1 },
      displayWidth: 1920,
      displayHeight: 1080,
      frameRate: 30,
      variableFrameRate: false,
      frameCount: 300,
    });
  });

  it('reads a WebM with VP9 alpha and no frame count', async () => {
    expect(await probe('transparent_vp9_alpha.webm')).toEqual({
      formatName: 'matroska,webm',
      durationSeconds: 5,
      sizeBytes: 31380,
      bitRate: 50208,
      video: {
        index: 0,
        codec: 'vp9',
        profile: 'Profile 0',
        pixFmt: 'yuv420p',
        bitDepth: 8,
        width: 200,
        height: 200,
        rotation: 0,
        sampleAspect: { num: 1, den: 1 },
        displayWidth: 200,
        displayHeight: 200,
        frameRate: 30,
        variableFrameRate: false,
        frameCount: null,
      },
      audio: { index: 1, codec: 'vorbis', channels: 2, sampleRate: 48000 },
    });
  });
});

/** A minimal ffprobe document with one video stream, overridable. */
function doc(video: Record<string, unknown>, extraStreams: Record<string, unknown>[] = []) {
  return {
    format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '4.000000', size: '1000', bit_rate: '2000' },
    streams: [
      ...extraStreams,
      { index: extraStreams.length, codec_type: 'video', codec_name: 'h264', pix_fmt: 'yuv420p', width: 1920, height: 1080, r_frame_rate: '25/1', avg_frame_rate: '25/1', ...video },
    ],
  };
}

describe('parseFfprobeJson on hand-written JSON', () => {
  it('turns a display matrix of -90 (counter-clockwise) into 90 clockwise and swaps the display dimensions', () => {
    const p = parseFfprobeJson(doc({ side_data_list: [{ side_data_type: 'Display Matrix', rotation: -90 }] }));
    expect(p.video).toMatchObject({ width: 1920, height: 1080, rotation: 90, displayWidth: 1080, displayHeight: 1920 });
  });

  it('takes a rotate tag as clockwise degrees', () => {
    const p = parseFfprobeJson(doc({ tags: { rotate: '270' } }));
    expect(p.video).toMatchObject({ rotation: 270, displayWidth: 1080, displayHeight: 1920 });
  });

  it('skips cover art for the real video stream', () => {
    const cover = { index: 0, codec_type: 'video', codec_name: 'mjpeg', pix_fmt: 'yuvj420p', width: 600, height: 600, disposition: { attached_pic: 1 } };
    const p = parseFfprobeJson(doc({}, [cover]));
    expect(p.video).toMatchObject({ index: 1, codec: 'h264', width: 1920, height: 1080 });
  });

  it('gives video null when the only picture is cover art', () => {
    const raw = {
      format: { format_name: 'mp3', duration: '3.0' },
      streams: [
        { index: 0, codec_type: 'audio', codec_name: 'mp3', channels: 2, sample_rate: '44100' },
        { index: 1, codec_type: 'video', codec_name: 'png', width: 500, height: 500, disposition: { attached_pic: 1 } },
      ],
    };
    expect(parseFfprobeJson(raw)).toEqual({
      formatName: 'mp3',
      durationSeconds: 3,
      sizeBytes: 0,
      bitRate: null,
      video: null,
      audio: { index: 0, codec: 'mp3', channels: 2, sampleRate: 44100 },
    });
  });

  it('marks a stream whose average and real frame rates disagree as variable', () => {
    const vfr = parseFfprobeJson(doc({ r_frame_rate: '30/1', avg_frame_rate: '24000/1001' }));
    expect(vfr.video).toMatchObject({ frameRate: 24000 / 1001, variableFrameRate: true });
    const cfr = parseFfprobeJson(doc({ r_frame_rate: '30000/1001', avg_frame_rate: '30000/1001' }));
    expect(cfr.video).toMatchObject({ frameRate: 30000 / 1001, variableFrameRate: false });
  });

  it('takes the bit depth from the pixel format when bits_per_raw_sample is absent', () => {
    expect(parseFfprobeJson(doc({ pix_fmt: 'yuv420p10le' })).video?.bitDepth).toBe(10);
    expect(parseFfprobeJson(doc({ pix_fmt: 'yuv422p12be' })).video?.bitDepth).toBe(12);
    expect(parseFfprobeJson(doc({ pix_fmt: 'yuv420p10le', bits_per_raw_sample: '10' })).video?.bitDepth).toBe(10);
  });

  it('reads N/A durations and sizes as unknown', () => {
    const p = parseFfprobeJson({ format: { format_name: 'mpegts', duration: 'N/A', size: 'N/A', bit_rate: 'N/A' }, streams: [] });
    expect(p).toEqual({ formatName: 'mpegts', durationSeconds: 0, sizeBytes: 0, bitRate: null, video: null, audio: null });
  });

  it('throws when the format section is missing', () => {
    expect(() => parseFfprobeJson({ streams: [] })).toThrow('no format section');
    expect(() => parseFfprobeJson(null)).toThrow('no format section');
    expect(() => parseFfprobeJson({})).toThrow('no format section');
  });
});
