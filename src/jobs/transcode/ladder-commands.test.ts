import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inputHardeningArgs } from '../../media/input-hardening.js';
import { probeMedia } from '../../media/ffmpeg.js';
import { buildLadderCommand, varStreamMap, type LadderSettings } from './ladder-commands.js';
import { planLadder, type LadderPlan, type Rung } from './ladder.js';
import type { TranscodeInput } from './spec.js';
import { VIDEO } from '../../../test/helpers/assets.js';

const HEAD = ['-hide_banner', '-nostdin', '-y', '-loglevel', 'level+info', '-benchmark', '-progress', 'pipe:1', '-nostats', ...inputHardeningArgs()];
const CUDA = ['-hwaccel', 'cuda', '-hwaccel_device', '0', '-hwaccel_output_format', 'cuda'];
const CLEAN = ['-map_metadata', '-1', '-sn', '-dn', '-fps_mode', 'cfr', '-r', '30000/1001'];
const AUDIO = ['-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-ar', '48000', '-af', 'aresample=async=1'];
const hls = (map: string) => [
  '-f', 'hls', '-hls_time', '4', '-hls_playlist_type', 'vod', '-hls_segment_type', 'fmp4', '-hls_flags', 'independent_segments',
  '-hls_fmp4_init_filename', 'init.mp4', '-hls_segment_filename', '/tmp/job/hls/v%v/seg_%05d.m4s', '-master_pl_name', 'master.m3u8',
  '-var_stream_map', map, '/tmp/job/hls/v%v/index.m3u8',
];

const rung = (name: string, width: number, height: number, codec: Rung['codec'], kbit: number): Rung => ({
  name, width, height, codec, bitsPerSecond: kbit * 1000, maxrateBitsPerSecond: kbit * 1100, bufsizeBits: kbit * 2000,
});
const R720 = rung('720p', 1280, 720, 'h264', 2800);
const R480 = rung('480p', 854, 480, 'h264', 1400);
const R360 = rung('360p', 640, 360, 'h264', 800);

const settings = (rungs: Rung[], extra: Partial<LadderSettings> = {}): LadderSettings => ({
  files: { input: '/tmp/job/in', outDir: '/tmp/job/hls' }, videoStream: 0, audioStream: 1, rungs, frameRate: '30000/1001',
  segmentSeconds: 4, gop: 120, x264Preset: 'veryfast', av1Encoder: 'libsvtav1', audioBitrate: '128k', loudness: null, gpuIndex: 0, ...extra,
});
const keys = (i: number) => [`-force_key_frames:v:${i}`, 'expr:gte(t,n_forced*4)'];
const capped = (i: number, kbit: number) => [`-b:v:${i}`, `${kbit}k`, `-maxrate:v:${i}`, `${Math.round(kbit * 1.1)}k`, `-bufsize:v:${i}`, `${kbit * 2}k`];
const x264 = (i: number, kbit: number) => [
  `-c:v:${i}`, 'libx264', `-preset:v:${i}`, 'veryfast', ...capped(i, kbit),
  `-g:v:${i}`, '120', `-keyint_min:v:${i}`, '120', `-sc_threshold:v:${i}`, '0', ...keys(i), `-profile:v:${i}`, 'high',
];
const x265 = (i: number, kbit: number) => [
  `-c:v:${i}`, 'libx265', `-preset:v:${i}`, 'veryfast', ...capped(i, kbit),
  `-x265-params:v:${i}`, 'keyint=120:min-keyint=120:scenecut=0:open-gop=0:log-level=error', `-forced-idr:v:${i}`, '1', ...keys(i),
  `-tag:v:${i}`, 'hvc1',
];
const cpuScale = (i: number, r: Rung) => `[s${i}]scale=${r.width}:${r.height}:flags=lanczos,setsar=1,format=yuv420p[v${i}]`;

describe('buildLadderCommand', () => {
  it('cpu, H.264, three rungs with audio: one decode split three ways, one shared audio rendition', () => {
    expect(buildLadderCommand('cpu', settings([R720, R480, R360], { gpuIndex: null }))).toEqual([
      ...HEAD, '-i', '/tmp/job/in',
      '-filter_complex', `[0:0]fps=30000/1001,split=3[s0][s1][s2];${cpuScale(0, R720)};${cpuScale(1, R480)};${cpuScale(2, R360)}`,
      '-map', '[v0]', '-map', '[v1]', '-map', '[v2]', '-map', '0:1', ...CLEAN,
      ...x264(0, 2800), ...x264(1, 1400), ...x264(2, 800), ...AUDIO,
      ...hls('v:0,agroup:aud v:1,agroup:aud v:2,agroup:aud a:0,agroup:aud'),
    ]);
  });

  it('cpu, HEVC, no audio: a video-only ladder tagged hvc1', () => {
    const rungs = [rung('720p', 1280, 720, 'hevc', 1820), rung('480p', 854, 480, 'hevc', 910)];
    expect(buildLadderCommand('cpu', settings(rungs, { audioStream: null, videoStream: 2 }))).toEqual([
      ...HEAD, '-i', '/tmp/job/in',
      '-filter_complex', `[0:2]fps=30000/1001,split=2[s0][s1];${cpuScale(0, rungs[0]!)};${cpuScale(1, rungs[1]!)}`,
      '-map', '[v0]', '-map', '[v1]', ...CLEAN, ...x265(0, 1820), ...x265(1, 910), '-an', ...hls('v:0 v:1'),
    ]);
  });

  it('cpu, AV1: SVT-AV1 at the preset matching x264 veryfast, or libaom where SVT is missing', () => {
    const av1 = [rung('360p', 640, 360, 'av1', 440)];
    const tail = ['-map', '[v0]', '-map', '0:1', ...CLEAN];
    expect(buildLadderCommand('cpu', settings(av1, { gpuIndex: null }))).toEqual([
      ...HEAD, '-i', '/tmp/job/in', '-filter_complex', `[0:0]fps=30000/1001,split=1[s0];${cpuScale(0, av1[0]!)}`, ...tail,
      '-c:v:0', 'libsvtav1', '-preset:v:0', '10', ...capped(0, 440), '-g:v:0', '120', '-svtav1-params:v:0', 'scd=0', ...keys(0),
      ...AUDIO, ...hls('v:0,agroup:aud a:0,agroup:aud'),
    ]);
    expect(buildLadderCommand('cpu', settings(av1, { av1Encoder: 'libaom-av1', x264Preset: 'slow' }))).toEqual([
      ...HEAD, '-i', '/tmp/job/in', '-filter_complex', `[0:0]fps=30000/1001,split=1[s0];${cpuScale(0, av1[0]!)}`, ...tail,
      '-c:v:0', 'libaom-av1', '-cpu-used:v:0', '8', '-row-mt:v:0', '1', ...capped(0, 440), '-g:v:0', '120', '-keyint_min:v:0', '120', ...keys(0),
      ...AUDIO, ...hls('v:0,agroup:aud a:0,agroup:aud'),
    ]);
  });

  it('nvdec-nvenc, H.264: scale_cuda per branch, NVENC per rung, nothing leaves the GPU', () => {
    const nvenc = (i: number, kbit: number) => [
      `-c:v:${i}`, 'h264_nvenc', `-preset:v:${i}`, 'p5', `-tune:v:${i}`, 'hq', `-rc:v:${i}`, 'vbr', ...capped(i, kbit),
      `-g:v:${i}`, '120', `-forced-idr:v:${i}`, '1', `-no-scenecut:v:${i}`, '1', ...keys(i), `-profile:v:${i}`, 'high', `-gpu:v:${i}`, '0',
    ];
    expect(buildLadderCommand('nvdec-nvenc', settings([R720, R360]))).toEqual([
      ...HEAD, ...CUDA, '-i', '/tmp/job/in',
      '-filter_complex',
      '[0:0]fps=30000/1001,split=2[s0][s1];[s0]scale_cuda=1280:720:interp_algo=lanczos:format=nv12,setsar=1[v0];[s1]scale_cuda=640:360:interp_algo=lanczos:format=nv12,setsar=1[v1]',
      '-map', '[v0]', '-map', '[v1]', '-map', '0:1', ...CLEAN, ...nvenc(0, 2800), ...nvenc(1, 800), ...AUDIO,
      ...hls('v:0,agroup:aud v:1,agroup:aud a:0,agroup:aud'),
    ]);
    const hevc = buildLadderCommand('nvdec-nvenc', settings([rung('720p', 1280, 720, 'hevc', 1820)], { gpuIndex: 1 })).join(' ');
    expect(hevc).toContain('-c:v:0 hevc_nvenc -preset:v:0 p5');
    expect(hevc).toContain('-profile:v:0 main -tag:v:0 hvc1 -gpu:v:0 1');
  });

  it('nvdec-cpu, HEVC: scale_cuda writes the planar 4:2:0 that x265 takes, then one download per branch', () => {
    const rungs = [rung('720p', 1280, 720, 'hevc', 1820), rung('360p', 640, 360, 'hevc', 520)];
    expect(buildLadderCommand('nvdec-cpu', settings(rungs))).toEqual([
      ...HEAD, ...CUDA, '-i', '/tmp/job/in',
      '-filter_complex',
      '[0:0]fps=30000/1001,split=2[s0][s1];' +
        '[s0]scale_cuda=1280:720:interp_algo=lanczos:format=yuv420p,hwdownload,format=yuv420p,setsar=1[v0];' +
        '[s1]scale_cuda=640:360:interp_algo=lanczos:format=yuv420p,hwdownload,format=yuv420p,setsar=1[v1]',
      '-map', '[v0]', '-map', '[v1]', '-map', '0:1', ...CLEAN, ...x265(0, 1820), ...x265(1, 520), ...AUDIO,
      ...hls('v:0,agroup:aud v:1,agroup:aud a:0,agroup:aud'),
    ]);
    // x264 takes NV12 as it comes from the GPU.
    expect(buildLadderCommand('nvdec-cpu', settings([R360])).join(' ')).toContain('scale_cuda=640:360:interp_algo=lanczos:format=nv12,hwdownload,format=nv12,setsar=1[v0]');
  });

  it('normalises loudness to EBU R128 when asked', () => {
    const args = buildLadderCommand('cpu', settings([R360], { loudness: 'ebu-r128' }));
    expect(args[args.indexOf('-af') + 1]).toBe('aresample=async=1,loudnorm=I=-23:TP=-1');
  });

  it('refuses a GPU path without a GPU index, and an empty ladder', () => {
    expect(() => buildLadderCommand('nvdec-cpu', settings([R360], { gpuIndex: null }))).toThrow(/needs a GPU index/);
    expect(() => buildLadderCommand('cpu', settings([]))).toThrow(/at least one rung/);
    expect(varStreamMap(1, false)).toBe('v:0');
  });
});

describe('the CPU ladder, run for real', () => {
  const run = promisify(execFile);
  const ASSETS = VIDEO;
  const SOURCE = { file: 'file_01hzy3k8m9x2v7q4w5e6r7t8y9' };
  const NO_GPU = { gpus: [], videoAcceleration: null };
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'malan-ladder-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Plans, runs the first (CPU) attempt, checks the log is clean; returns the plan and the master's lines. */
  async function runLadder(asset: string, input: TranscodeInput, outName: string) {
    const source = join(ASSETS, asset);
    const probe = await probeMedia(source);
    const outDir = join(dir, outName);
    const plan = planLadder(input, probe, NO_GPU, { input: source, outDir });
    const [attempt] = plan.attempts;
    if (attempt === undefined) throw new Error('no attempt planned');
    const { stdout, stderr } = await run('ffmpeg', attempt.args, { maxBuffer: 16 << 20 });
    expect(stderr.split('\n').filter((l) => /\] \[(warning|error|fatal)\]|^\[(warning|error|fatal)\]/.test(l))).toEqual([]);
    expect(stdout).toContain('progress=end');
    const master = (await readFile(join(outDir, plan.layout.master), 'utf8')).split('\n');
    return { plan, probe, outDir, master };
  }

  /** The variant lines of the master that carry a RESOLUTION (video), with the URI line after each. */
  function videoVariants(master: string[]): { attrs: string; uri: string }[] {
    return master.flatMap((line, i) => (line.startsWith('#EXT-X-STREAM-INF:') && line.includes('RESOLUTION=') ? [{ attrs: line, uri: master[i + 1] ?? '' }] : []));
  }

  /** Every media playlist: its segments exist, its init is where the layout says, its EXTINFs add up to the source. */
  async function checkPlaylists(plan: LadderPlan, outDir: string, sourceSeconds: number): Promise<void> {
    for (const entry of [...plan.layout.variants, ...(plan.layout.audio ? [plan.layout.audio] : [])]) {
      const lines = (await readFile(join(outDir, entry.playlist), 'utf8')).split('\n');
      expect(lines).toContain(`#EXT-X-MAP:URI="${entry.init.slice(entry.dir.length + 1)}"`);
      await stat(join(outDir, entry.init));
      const segments = lines.filter((l) => l.endsWith('.m4s'));
      expect(segments.length).toBeGreaterThan(0);
      for (const segment of segments) await stat(join(outDir, entry.dir, segment));
      const total = lines.filter((l) => l.startsWith('#EXTINF:')).reduce((sum, l) => sum + Number.parseFloat(l.slice(8)), 0);
      expect(Math.abs(total - sourceSeconds), `${entry.playlist}: ${total} s`).toBeLessThan(0.2);
    }
  }

  /** Keyframe times of each video variant (init + its segments, as a player joins them); one list per rung. */
  async function keyframeTimes(plan: LadderPlan, outDir: string): Promise<number[][]> {
    return Promise.all(
      plan.layout.variants.map(async (v) => {
        const lines = (await readFile(join(outDir, v.playlist), 'utf8')).split('\n');
        const parts = [v.init, ...lines.filter((l) => l.endsWith('.m4s')).map((s) => `${v.dir}/${s}`)];
        const joined = join(outDir, `${v.dir}.mp4`);
        await writeFile(joined, Buffer.concat(await Promise.all(parts.map((p) => readFile(join(outDir, p))))));
        // Packet flags rather than -skip_frame nokey, which the AV1 decoder does not honour.
        const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'packet=pts_time,flags', '-of', 'json', joined]);
        const packets = (JSON.parse(stdout) as { packets: { pts_time: string; flags: string }[] }).packets;
        return packets.filter((p) => p.flags.startsWith('K')).map((p) => Number(p.pts_time));
      }),
    );
  }

  function expectAligned(times: number[][], frameSeconds: number): void {
    const [first, ...others] = times;
    expect(first?.length).toBeGreaterThan(1);
    for (const other of others) {
      expect(other).toHaveLength(first!.length);
      other.forEach((t, k) => expect(Math.abs(t - first![k]!)).toBeLessThanOrEqual(frameSeconds + 1e-6));
    }
  }

  it('H.264, three rungs and shared audio from flower.mp4 (960x540, 5.055 s), 2 s segments', async () => {
    const input: TranscodeInput = { source: SOURCE, ladder: [{ height: 360 }, { height: 240 }, { height: 180 }], segment_duration: 2 };
    const { plan, probe, outDir, master } = await runLadder('flower.mp4', input, 'h264');
    expect(plan.rungs.map((r) => `${r.width}x${r.height}`)).toEqual(['640x360', '426x240', '320x180']);

    const variants = videoVariants(master);
    expect(variants.map((v) => v.uri)).toEqual(['v0/index.m3u8', 'v1/index.m3u8', 'v2/index.m3u8']);
    variants.forEach((v, i) => {
      expect(v.attrs).toMatch(new RegExp(`BANDWIDTH=\\d+,RESOLUTION=${plan.rungs[i]!.width}x${plan.rungs[i]!.height},CODECS="avc1\\.[0-9a-f]{6},mp4a\\.40\\.2",AUDIO="group_aud"$`));
    });
    expect(master).toContain('#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="group_aud",NAME="audio_3",DEFAULT=YES,URI="v3/index.m3u8"');
    expect(plan.layout.audio).toEqual({ dir: 'v3', playlist: 'v3/index.m3u8', init: 'v3/init_3.mp4' });

    await checkPlaylists(plan, outDir, probe.durationSeconds);
    const keyframes = await keyframeTimes(plan, outDir);
    expectAligned(keyframes, 1001 / 30000);
    expect(keyframes[0]).toHaveLength(3); // one per 2 s segment: 0, 2, 4
  });

  it('HEVC, tagged hvc1, with loudness normalisation (ed_hevc.mp4, 1.12 s)', async () => {
    const input: TranscodeInput = { source: SOURCE, ladder: 'auto', codec: 'hevc', segment_duration: 1, audio: { loudness: 'ebu-r128' } };
    const { plan, probe, outDir, master } = await runLadder('ed_hevc.mp4', input, 'hevc');
    expect(plan.rungs.map((r) => r.name)).toEqual(['360p', '240p']);
    const variants = videoVariants(master);
    expect(variants).toHaveLength(2);
    for (const v of variants) expect(v.attrs).toMatch(/CODECS="hvc1\.[^",]+,mp4a\.40\.2",AUDIO="group_aud"$/);
    await checkPlaylists(plan, outDir, probe.durationSeconds);
    expectAligned(await keyframeTimes(plan, outDir), 1 / 25);
    const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_tag_string', '-of', 'csv=p=0', join(outDir, plan.layout.variants[0]!.init)]);
    expect(stdout.trim()).toBe('hvc1');
    const audio = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,sample_rate,channels', '-of', 'csv=p=0', join(outDir, plan.layout.audio!.init)]);
    expect(audio.stdout.trim()).toBe('aac,48000,2');
  });

  it('AV1 with SVT-AV1: keyframes aligned by the fixed GOP alone', async () => {
    const input: TranscodeInput = { source: SOURCE, ladder: 'auto', codec: 'av1', segment_duration: 1 };
    const { plan, probe, outDir, master } = await runLadder('ed_hevc.mp4', input, 'av1');
    expect(videoVariants(master).map((v) => v.uri)).toEqual(['v0/index.m3u8', 'v1/index.m3u8']);
    await checkPlaylists(plan, outDir, probe.durationSeconds);
    expectAligned(await keyframeTimes(plan, outDir), 1 / 25);
  });
});
