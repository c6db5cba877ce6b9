/**
 * The assembly task: every rendered frame, fetched in frame order, encoded into a preview video
 * (H.264, even dimensions, faststart) through the media door, checked frame by frame with ffprobe,
 * and a poster from its middle.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { JobError } from '../job-error.js';
import type { RenderTaskRuntime, TaskOutcome } from './render-runtime.js';

/** The preview's encode: pure, so that tests read the command as data. */
export function previewArgs(dir: string, ext: string, fps: number, out: string): string[] {
  return [
    '-v', 'error', '-nostdin',
    '-framerate', String(fps), '-start_number', '1', '-i', path.join(dir, `f_%06d.${ext}`),
    // H.264 in 4:2:0 needs even dimensions; frames of any size are cropped by at most one pixel.
    '-vf', 'crop=trunc(iw/2)*2:trunc(ih/2)*2,format=yuv420p',
    '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '20', '-movflags', '+faststart', '-an', '-y', out,
  ];
}

export async function assembleFrames(rt: RenderTaskRuntime): Promise<TaskOutcome> {
  const frames = rt.task.frames ?? [];
  if (!frames.length) throw new JobError('internal', 'no rendered frame to assemble', false);
  const dir = path.join(rt.workDir, 'frames');
  await mkdir(dir, { recursive: true });
  const ext = path.extname(frames[0]!.name).slice(1) || 'png';
  // Sequential names, whatever the frame numbers and step: the image2 demuxer reads a gapless sequence.
  for (const [i, f] of frames.entries()) {
    await rt.transfer.fetchUrl(f.url, path.join(dir, `f_${String(i + 1).padStart(6, '0')}.${ext}`), rt.signal);
    rt.report(0, (0.8 * (i + 1)) / frames.length);
  }
  const out = path.join(rt.workDir, 'preview.mp4');
  const ffmpegOpts = { signal: rt.signal, killGraceMs: rt.killGraceMs, onLog: (l: string) => rt.log('info', l) };
  const encoded = await rt.media.runFfmpeg(previewArgs(dir, ext, rt.input.preview.fps, out), ffmpegOpts);
  const probe = await rt.media.probeMedia(out, { signal: rt.signal });
  const count = probe.video?.frameCount ?? null;
  if (count !== frames.length) throw new JobError('output_verification_failed', `the preview has ${count ?? 'no'} frames, the job rendered ${frames.length}`);
  const poster = path.join(rt.workDir, 'poster.jpg');
  const middle = (frames.length / 2 / rt.input.preview.fps).toFixed(3);
  const posterRun = await rt.media.runFfmpeg(['-v', 'error', '-nostdin', '-ss', middle, '-i', out, '-frames:v', '1', '-q:v', '3', '-y', poster], ffmpegOpts);
  rt.report(0, 0.95);
  const preview = await rt.transfer.upload('preview.mp4', out, 'video/mp4', rt.signal);
  const posterFile = await rt.transfer.upload('poster.jpg', poster, 'image/jpeg', rt.signal);
  rt.log('info', `preview: ${frames.length} frames at ${rt.input.preview.fps} fps, ${probe.video?.width}x${probe.video?.height}`);
  return {
    outputs: [
      { frame: 0, file: preview, name: 'preview.mp4' },
      { frame: 0, file: posterFile, name: 'poster.jpg' },
    ],
    cpuSeconds: encoded.cpuSeconds + posterRun.cpuSeconds,
    execution: { preview: { frames: frames.length, fps: rt.input.preview.fps, width: probe.video?.width, height: probe.video?.height } },
  };
}
