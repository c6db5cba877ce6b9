/**
 * An ABR ladder through the real farm: DESIGN.md's smallest ladder input, then everything a
 * player needs checked over HTTP — the master and its rungs, every segment, durations, keyframes
 * aligned across rungs (ffprobe), MP4s with faststart, the poster and the scrub sprite.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMaster, parseMediaPlaylist } from '../../src/media/hls-playlists.js';
import { apiClient, waitForJob, type ApiClient } from '../helpers/api-client.js';
import { startFarm, type FarmProcesses } from '../helpers/farm-processes.js';
import { ASSETS, testWorld } from '../helpers/test-env.js';

let farm: FarmProcesses;
let api: ApiClient;
let key: string;
beforeAll(async () => {
  farm = await startFarm((await testWorld()).env);
  key = await farm.createKey('studio-a');
  api = apiClient(farm.baseUrl, key);
});
afterAll(() => farm?.stop());

const bytes = async (url: string) => {
  const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
  expect(res.status, url).toBe(200);
  return { body: Buffer.from(await res.arrayBuffer()), type: res.headers.get('content-type') };
};
const keyframes = (file: string) =>
  execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', file], { encoding: 'utf8' })
    .trim().split('\n').filter((l) => l.includes('K')).map((l) => Number(l.split(',')[0]));

describe('an ABR ladder job', () => {
  it('packages the smallest ladder input as HLS and MP4 that players can use', async () => {
    const source = path.join(ASSETS, 'video/smpte-2997.mp4'); // 1080p, 10 s, 25 fps (the 29.97 is the burned-in timecode)
    const file = (await api.upload(readFileSync(source), 'video/mp4', 'bars.mp4')).body.id;
    const submitted = await api.post('/v1/jobs', { kind: 'transcode', input: { source: { file }, ladder: 'auto', formats: ['hls', 'mp4'] } });
    expect(submitted.status).toBe(201);
    const job = await waitForJob(api, submitted.body.id, 300_000);
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    const roles = job.outputs.map((o: { role: string }) => o.role);
    expect(roles.filter((r: string) => r === 'hls-master')).toHaveLength(1);
    expect(roles.filter((r: string) => r === 'hls-playlist').length).toBeGreaterThanOrEqual(3);
    expect(roles).toEqual(expect.arrayContaining(['poster', 'sprite', 'thumbnails', 'mp4']));

    const masterOut = job.outputs.find((o: { role: string }) => o.role === 'hls-master');
    const master = await bytes(masterOut.url);
    expect(master.type).toBe('application/vnd.apple.mpegurl');
    const parsed = parseMaster(master.body.toString());
    const videoVariants = parsed.variants.filter((v) => v.resolution);
    expect(videoVariants.map((v) => v.resolution!.height)).toEqual([1080, 720, 480, 360]);
    for (const v of videoVariants) {
      expect(v.codecs[0]).toMatch(/^avc1\./);
      expect(v.bandwidth).toBeGreaterThan(0);
      expect(v.audio).toBe(parsed.renditions[0]!.groupId);
    }
    const sourceDuration = Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', source], { encoding: 'utf8' }));
    const keyframeLists: number[][] = [];
    const base = masterOut.url.slice(0, masterOut.url.lastIndexOf('/') + 1);
    for (const v of videoVariants) {
      const playlistUrl = new URL(v.uri, base).toString();
      const media = parseMediaPlaylist((await bytes(playlistUrl)).body.toString());
      expect(media.endList).toBe(true);
      expect(Math.abs(media.segments.reduce((s, x) => s + x.duration, 0) - sourceDuration)).toBeLessThan(0.2);
      const parts = [await bytes(new URL(media.map!, playlistUrl).toString())];
      for (const seg of media.segments) {
        const part = await bytes(new URL(seg.uri, playlistUrl).toString());
        expect(part.type).toBe('video/iso.segment');
        parts.push(part);
      }
      const whole = path.join(farm.home, `rung-${v.resolution!.height}.mp4`);
      writeFileSync(whole, Buffer.concat(parts.map((p) => p.body)));
      keyframeLists.push(keyframes(whole));
    }
    // Aligned: every rung has its keyframes at the same times, one per segment start.
    for (const list of keyframeLists.slice(1)) {
      expect(list.length).toBe(keyframeLists[0]!.length);
      list.forEach((t, i) => expect(Math.abs(t - keyframeLists[0]![i]!)).toBeLessThan(0.04));
    }

    // A player that cannot send a key (Safari's HLS, VLC) follows the keyless link and its relative references.
    const viaLink = await fetch(masterOut.playback_url);
    expect(viaLink.status).toBe(200);
    const firstVariant = new URL(parseMaster(await viaLink.text()).variants[0]!.uri, masterOut.playback_url).toString();
    const media = parseMediaPlaylist(await (await fetch(firstVariant)).text());
    expect((await fetch(new URL(media.segments[0]!.uri, firstVariant))).status).toBe(200);

    const mp4 = job.outputs.find((o: { role: string; rendition?: { height: number } }) => o.role === 'mp4' && o.rendition?.height === 720);
    const mp4Bytes = (await bytes(mp4.url)).body;
    const head = mp4Bytes.subarray(0, 64 * 1024).toString('latin1');
    expect(head.indexOf('moov')).toBeGreaterThan(-1);
    expect(head.indexOf('moov')).toBeLessThan(mp4Bytes.toString('latin1').indexOf('mdat'));
    const mp4File = path.join(farm.home, 'rung-720.mp4');
    writeFileSync(mp4File, mp4Bytes);
    expect(execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=height,codec_name', '-of', 'csv=p=0', mp4File], { encoding: 'utf8' }).trim()).toBe('h264,720');

    const poster = await bytes(job.outputs.find((o: { role: string }) => o.role === 'poster').url);
    expect(poster.type).toBe('image/jpeg');
    const vttOut = job.outputs.find((o: { role: string }) => o.role === 'thumbnails');
    const vtt = (await bytes(vttOut.url)).body.toString();
    expect(vtt.startsWith('WEBVTT')).toBe(true);
    const spriteRef = /\n(\S+)#xywh=\d+,\d+,\d+,\d+/.exec(vtt)![1]!;
    expect((await bytes(new URL(spriteRef, vttOut.url).toString())).type).toBe('image/jpeg');
    expect(job.usage.output_seconds).toBeGreaterThan(4 * 9.9);
  });

  it('fails an audio-only source with a readable reason', async () => {
    const audio = path.join(farm.home, 'tone.m4a');
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=d=2', '-c:a', 'aac', audio]);
    const file = (await api.upload(readFileSync(audio), 'audio/mp4')).body.id;
    const job = await waitForJob(api, (await api.post('/v1/jobs', { kind: 'transcode', input: { source: { file }, ladder: 'auto' } })).body.id);
    expect(job.status).toBe('failed');
    expect(job.error).toMatchObject({ code: 'no_video_stream', message: 'the source has no video stream to transcode' });
  });
});
