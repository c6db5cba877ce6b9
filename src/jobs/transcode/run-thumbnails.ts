/**
 * A poster and a thumbnail sprite with its WebVTT scrub track, written under `out/` as
 * `poster.jpg` and `thumbnails/`. They dress the video: when one cannot be made the job goes on,
 * and says so in its log and on the job.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { MediaProbe } from '../../media/media-probe.js';
import type { ReportedOutput } from '../../queue/messages.js';
import type { JobRuntime } from '../job-runtime.js';
import type { TranscodeInput } from './spec.js';
import { buildSprite, posterArgs, posterTime, thumbnailFramesArgs, thumbnailInterval } from './thumbnails.js';

const POSTER_HEIGHT = 720;
const THUMBNAIL_WIDTH = 160;

export async function makeThumbnails(rt: JobRuntime<TranscodeInput>, source: string, probe: MediaProbe, outDir: string) {
  const outputs: Array<ReportedOutput & { name: string }> = [];
  const warnings: string[] = [];
  let cpuSeconds = 0;
  const video = probe.video!;
  const run = async (args: string[]) => {
    cpuSeconds += (await rt.media.runFfmpeg(args, { signal: rt.signal, killGraceMs: rt.killGraceMs, onLog: (l) => rt.log('info', l) })).cpuSeconds;
  };
  try {
    const height = Math.min(POSTER_HEIGHT, 2 * Math.floor(video.displayHeight / 2));
    await run(posterArgs(source, path.join(outDir, 'poster.jpg'), { atSeconds: posterTime(probe.durationSeconds), height, videoStream: video.index }));
    outputs.push({ file: '', role: 'poster', name: 'poster.jpg' });
  } catch (err) {
    if (rt.signal.aborted) throw err;
    warnings.push(`no poster: ${(err as Error).message}`);
  }
  const framesDir = path.join(rt.workDir, 'thumbs');
  try {
    await mkdir(framesDir, { recursive: true });
    await mkdir(path.join(outDir, 'thumbnails'), { recursive: true });
    const intervalSeconds = thumbnailInterval(probe.durationSeconds);
    await run(thumbnailFramesArgs(source, framesDir, { intervalSeconds, width: THUMBNAIL_WIDTH, videoStream: video.index }));
    const frames = (await readdir(framesDir)).sort().map((f) => path.join(framesDir, f));
    // The VTT names the sprite relative to itself, so it resolves wherever the pair is served.
    const sprite = await buildSprite(frames, { intervalSeconds, durationSeconds: probe.durationSeconds, spriteName: 'sprite.jpg' });
    await writeFile(path.join(outDir, 'thumbnails/sprite.jpg'), sprite.image);
    await writeFile(path.join(outDir, 'thumbnails/thumbnails.vtt'), sprite.vtt);
    outputs.push({ file: '', role: 'sprite', name: 'thumbnails/sprite.jpg' }, { file: '', role: 'thumbnails', name: 'thumbnails/thumbnails.vtt' });
  } catch (err) {
    if (rt.signal.aborted) throw err;
    warnings.push(`no thumbnail sprite: ${(err as Error).message}`);
  } finally {
    await rm(framesDir, { recursive: true, force: true });
  }
  for (const w of warnings) rt.log('warn', w);
  return { outputs, warnings, cpuSeconds };
}
