import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFfmpeg } from '../../media/ffmpeg.js';
import { inputHardeningArgs } from '../../media/input-hardening.js';
import { measureQuality, parseQualityLog, QUALITY_METHOD, QualityLogError, qualityArgs, type RenditionToMeasure } from './quality.js';
import { transcodeInputSchema, unsupportedFeatures } from './spec.js';
import { GLOBAL_ARGS } from './transcode-commands.js';
import { VIDEO } from '../../../test/helpers/assets.js';

// Captured verbatim from ffmpeg 5.1 (Debian) running qualityArgs: flower.mp4's 426x240 rung made
// with libx264 crf 35 (preset medium), then that rung against itself.
const SSIM_CRF35 =
  '[Parsed_ssim_11 @ 0x5637a6cbae40] [info] SSIM Y:0.948948 (12.919883) U:0.938691 (12.124732) V:0.947813 (12.824411) All:0.947049 (12.761293)';
const PSNR_CRF35 =
  '[Parsed_psnr_12 @ 0x5637a6cbbb40] [info] PSNR y:35.956058 u:38.256179 v:38.771487 average:36.651855 min:34.416728 max:37.607732';
const SSIM_SAME = '[Parsed_ssim_11 @ 0x56502296f280] [info] SSIM Y:1.000000 (inf) U:1.000000 (inf) V:1.000000 (inf) All:1.000000 (inf)';
const PSNR_SAME = '[Parsed_psnr_12 @ 0x56502296fac0] [info] PSNR y:inf u:inf v:inf average:inf min:inf max:inf';

describe('qualityArgs', () => {
  it('compares the rendition with the hardened source, scaled to its size, on one frame grid', () => {
    expect(qualityArgs('/tmp/v0.mp4', '/data/in.mov', { width: 640, height: 360, sourceVideoStream: 2, frameRate: '30000/1001' })).toEqual([
      ...GLOBAL_ARGS,
      '-i', '/tmp/v0.mp4',
      ...inputHardeningArgs(),
      '-i', '/data/in.mov',
      '-filter_complex',
      '[0:v:0]setpts=PTS-STARTPTS,fps=30000/1001,settb=AVTB,format=yuv420p[dist];' +
        '[1:2]setpts=PTS-STARTPTS,fps=30000/1001,settb=AVTB,scale=640:360:flags=bicubic,setsar=1,format=yuv420p,split[ref0][ref1];' +
        '[dist][ref0]ssim[dist1];' +
        '[dist1][ref1]psnr[out]',
      '-map', '[out]',
      '-f', 'null', '-',
    ]);
  });

  it('takes only a frame rate where the filter graph wants one', () => {
    const opts = { width: 640, height: 360, sourceVideoStream: 0 };
    expect(qualityArgs('a.mp4', 'b.mov', { ...opts, frameRate: '10.505' })).toContain('-filter_complex');
    expect(() => qualityArgs('a.mp4', 'b.mov', { ...opts, frameRate: '30,drawtext=x' })).toThrow('not a frame rate: "30,drawtext=x"');
  });
});

describe('parseQualityLog', () => {
  it('reads the summaries ffmpeg logs', () => {
    expect(parseQualityLog(['[info] frame=  150 fps=0.0', PSNR_CRF35, SSIM_CRF35])).toEqual({
      ssim: { y: 0.948948, u: 0.938691, v: 0.947813, all: 0.947049, db: 12.761293 },
      psnr: { y: 35.956058, u: 38.256179, v: 38.771487, average: 36.651855, min: 34.416728, max: 37.607732 },
    });
  });

  it('reads "inf" (identical frames) as Infinity', () => {
    expect(parseQualityLog([PSNR_SAME, SSIM_SAME])).toEqual({
      ssim: { y: 1, u: 1, v: 1, all: 1, db: Infinity },
      psnr: { y: Infinity, u: Infinity, v: Infinity, average: Infinity, min: Infinity, max: Infinity },
    });
  });

  it('throws when a summary is missing or unreadable', () => {
    expect(() => parseQualityLog([SSIM_CRF35])).toThrow(new QualityLogError('ffmpeg logged no PSNR summary (no frames compared, or the run failed before the end)'));
    expect(() => parseQualityLog([PSNR_CRF35])).toThrow(/no SSIM summary/);
    expect(() => parseQualityLog([SSIM_CRF35, PSNR_CRF35.replace('average:36.651855', 'average:nan')])).toThrow('unreadable PSNR value "nan"');
  });

  it('ignores look-alikes that are not a filter summary (source metadata is printed indented)', () => {
    expect(() => parseQualityLog([`    title           : ${SSIM_CRF35}`, PSNR_CRF35])).toThrow(/no SSIM summary/);
  });
});

describe('quality_report in the transcode input', () => {
  const FILE = 'file_01hzy3k8m9x2v7q4w5e6r7t8y9';
  const named = (input: unknown) => unsupportedFeatures(transcodeInputSchema.parse(input));

  it('is an optional boolean, made with ladders only so far', () => {
    expect(named({ source: { file: FILE }, ladder: 'auto', quality_report: true })).toEqual([]);
    expect(named({ source: { file: FILE }, height: 720, quality_report: false })).toEqual([]);
    expect(named({ source: { file: FILE }, height: 720, quality_report: true })).toEqual(['quality_report with "height" (it applies to ladders so far)']);
    const bad = transcodeInputSchema.safeParse({ source: { file: FILE }, ladder: 'auto', quality_report: 'yes' });
    expect(bad.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual(['quality_report: quality_report must be true or false']);
  });
});

describe('measureQuality with ffmpeg', () => {
  const ASSETS = VIDEO;
  const run = async (args: string[], onLog: (line: string) => void) => {
    await runFfmpeg(args, { onLog });
  };
  const encode = (input: string, filter: string, rate: string, crf: number, output: string) =>
    runFfmpeg(['-hide_banner', '-nostdin', '-y', '-loglevel', 'error', '-i', input, '-vf', filter, '-fps_mode', 'cfr', '-r', rate,
      '-c:v', 'libx264', '-preset', 'veryfast', '-crf', String(crf), '-an', output]);
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'malan-quality-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('scores a crf 18 rung above a crf 35 one, and a rung against itself as identical', async () => {
    const source = `${ASSETS}/flower.mp4`; // 960x540, CFR 29.97 fps
    const rung = (crf: number): RenditionToMeasure => ({ name: `crf${crf}`, file: join(dir, `flower_${crf}.mp4`), width: 426, height: 240, frameRate: '30000/1001' });
    for (const crf of [18, 35]) await encode(source, 'scale=426:240:flags=lanczos,setsar=1,format=yuv420p', '30000/1001', crf, rung(crf).file);

    const report = await measureQuality(run, [rung(18), rung(35)], source, 0);
    expect(report.method).toBe(QUALITY_METHOD);
    expect(report.renditions.map((r) => [r.name, r.width, r.height])).toEqual([['crf18', 426, 240], ['crf35', 426, 240]]);
    const [high, low] = report.renditions;
    for (const r of [high!, low!]) {
      expect(r.ssim.all).toBeGreaterThan(0.5);
      expect(r.ssim.all).toBeLessThan(1);
      expect(r.psnr.average).toBeGreaterThan(20);
      expect(r.psnr.average).toBeLessThan(60);
    }
    expect(high!.ssim.all).toBeGreaterThan(low!.ssim.all);
    expect(high!.psnr.average).toBeGreaterThan(low!.psnr.average);

    const self = await measureQuality(run, [rung(35)], rung(35).file, 0);
    expect(self.renditions[0]!.ssim.all).toBe(1);
    expect(self.renditions[0]!.psnr.average).toBe(Infinity);
  });

  it('turns a rotated source upright as the rung was', async () => {
    // 1280x720 with a 180° display matrix and variable frame timing (about 10.5 fps on average).
    const source = `${ASSETS}/fire2_rotate180.mp4`;
    const rung: RenditionToMeasure = { name: '144p', file: join(dir, 'fire_144.mp4'), width: 256, height: 144, frameRate: '10.505' };
    // ffmpeg's default autorotate; the fps filter as the comparison's grid (see quality.ts on `-r` alone).
    await encode(source, 'fps=10.505,scale=256:144:flags=lanczos,setsar=1,format=yuv420p', '10.505', 23, rung.file);
    const upright = (await measureQuality(run, [rung], source, 0)).renditions[0]!;
    expect(upright.ssim.all).toBeGreaterThan(0.95);
    expect(upright.psnr.average).toBeGreaterThan(33);

    // Control: the same pixels with the display matrix dropped score as unrelated pictures.
    const unrotated = join(dir, 'fire_unrotated.mp4');
    await runFfmpeg(['-hide_banner', '-nostdin', '-y', '-loglevel', 'error', '-i', source, '-c', 'copy', '-metadata:s:v', 'rotate=0', unrotated]);
    const flipped = (await measureQuality(run, [rung], unrotated, 0)).renditions[0]!;
    expect(flipped.ssim.all).toBeLessThan(0.5);
  });
});
