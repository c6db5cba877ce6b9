/**
 * Video-to-video inference: an image model applied to every frame of a clip. One ffmpeg decodes
 * the source into raw RGB frames on a pipe, the model runs on a few frames at once, and a second
 * ffmpeg encodes its frames (in order) from a pipe into an MP4 with the source's audio. No frame
 * touches the disk, and each stage waits for the next (pipe backpressure), so memory holds at most
 * `inFlight` frames beyond the pipe buffers however long the clip.
 */
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { FfmpegError, spawnFfmpegPipe, type FfmpegPipe, type FfmpegRunResult } from '../../media/ffmpeg.js';
import type { MediaProbe } from '../../media/media-probe.js';
import { JobError } from '../job-error.js';
import type { DecodedImage } from './image-tensors.js';
import { mapOrdered, readFrames } from './frame-stream.js';
import { decodeArgs, encodeArgs, evenSize, frameRateFraction } from './video-commands.js';

export interface VideoModelOptions {
  /** Local input path (already fetched). */
  source: string;
  /** Output .mp4 path; removed again if the run fails. */
  dest: string;
  probe: MediaProbe;
  /** Frames are decoded at this size (the model's input size); ffmpeg scales. They arrive upright (rotation applied): size them from the probe's displayWidth/displayHeight, not the stored width/height. */
  frameSize: { width: number; height: number };
  /** The model on one frame: RGB in, RGB out (any size, the same for every frame). Called with up to `inFlight` frames at once so a batching model can merge them. */
  applyModel: (frame: DecodedImage, index: number) => Promise<DecodedImage>;
  /** Default 4. */
  inFlight?: number;
  /** Extra output args (the AIGC label's -metadata …), placed before the output path; a -movflags among them joins the +faststart one. */
  metadataArgs: string[];
  signal: AbortSignal;
  killGraceMs: number;
  onProgress?: (fraction: number) => void;
  onLog?: (line: string) => void;
  /** Clips with more frames than this are refused (unsupported_input): before starting when the probe says so, else when the frame after the last allowed one arrives. */
  maxFrames?: number;
  /** Default: `ffmpeg` on PATH. */
  ffmpegPath?: string;
  /** Each ffmpeg's pid once it is spawned (the encoder starts when the model's first frame is out). */
  onSpawn?: (pid: number, role: 'decoder' | 'encoder') => void;
}

export interface VideoModelResult {
  frames: number;
  /** The output's size: the model's, cropped to even. */
  width: number;
  height: number;
  /** The output's frame rate, the source's as a fraction: "24/1". */
  fps: string;
  /** Both ffmpeg processes' user + system CPU time. */
  cpuSeconds: number;
}

export async function runVideoModel(opts: VideoModelOptions): Promise<VideoModelResult> {
  const { probe, frameSize } = opts;
  const { video, expected, fps } = preflight(opts);

  // One stop for both processes: the caller's abort, a model error or a process failing.
  const stop = new AbortController();
  let failure: unknown;
  const fail = (err: unknown) => {
    failure ??= err;
    stop.abort();
  };
  const onCallerAbort = () => fail(new FfmpegError('ffmpeg was stopped', [], true));
  opts.signal.addEventListener('abort', onCallerAbort, { once: true });
  const stopped = new Promise<never>((_, reject) => stop.signal.addEventListener('abort', () => reject(failure), { once: true }));
  stopped.catch(() => {});
  const ffmpegOpts = (role: 'decoder' | 'encoder') => ({
    signal: stop.signal,
    killGraceMs: opts.killGraceMs,
    onLog: opts.onLog,
    ffmpegPath: opts.ffmpegPath,
    onSpawn: (pid: number) => opts.onSpawn?.(pid, role),
  });

  const decoder = spawnFfmpegPipe(decodeArgs({ source: opts.source, videoStream: video.index, ...frameSize }), ffmpegOpts('decoder'));
  const decoded = decoder.done.catch((err: unknown) => {
    // A local file ffmpeg cannot decode is the file's fault: retrying will not help.
    throw err instanceof FfmpegError && !err.aborted ? new JobError('media_unreadable', `ffmpeg could not decode the source: ${err.message}`) : err;
  });
  let encoder: FfmpegPipe | null = null;
  let outSize = { width: 0, height: 0 };

  const model = async (pixels: Buffer, index: number): Promise<Buffer> => {
    if (opts.maxFrames !== undefined && index >= opts.maxFrames) throw tooManyFrames(opts.maxFrames, 'the clip has more frames than its probe said');
    const out = await opts.applyModel({ pixels, ...frameSize }, index);
    if (out.pixels.length !== out.width * out.height * 3) throw new Error(`the model returned ${out.pixels.length} bytes for a ${out.width}x${out.height} RGB frame`);
    // Calls overlap, so the first to finish (not frame 0) sets the size the others must match.
    if (outSize.width === 0) outSize = { width: out.width, height: out.height };
    else if (out.width !== outSize.width || out.height !== outSize.height) {
      throw new Error(`the model returned frame ${index} at ${out.width}x${out.height}, another at ${outSize.width}x${outSize.height}`);
    }
    return out.pixels;
  };
  async function* frames(): AsyncGenerator<Buffer> {
    try {
      yield* readFrames(decoder.stdout, frameSize.width * frameSize.height * 3);
    } catch (err) {
      await decoded; // a stream cut mid-frame is the symptom; the decoder's exit says why
      throw err;
    }
  }
  const outputs = mapOrdered(frames(), opts.inFlight ?? 4, (pixels, i) =>
    model(pixels, i).catch((err: unknown) => {
      fail(err); // stop both processes now, before the encoder sees its input end and finishes a short file
      throw err;
    }),
  );

  let written = 0;
  const encode = async (): Promise<FfmpegRunResult> => {
    const first = await outputs.next();
    if (first.done) {
      await decoded; // its reason, if it failed
      throw new JobError('media_unreadable', 'ffmpeg decoded no frames from the source');
    }
    const pipe = spawnFfmpegPipe(
      encodeArgs({ source: opts.source, dest: opts.dest, audioStream: probe.audio?.index ?? null, ...outSize, frameRate: fps, metadataArgs: opts.metadataArgs }),
      ffmpegOpts('encoder'),
    );
    encoder = pipe;
    async function* counted(): AsyncGenerator<Buffer> {
      for (let frame: IteratorResult<Buffer> = first; !frame.done; frame = await outputs.next()) {
        yield frame.value;
        written++;
        if (expected > 0) opts.onProgress?.(Math.min(0.99, written / expected));
      }
    }
    const fed = pipeline(counted, pipe.stdin).catch(async (err: unknown) => {
      await pipe.done; // EPIPE is the symptom of an encoder that died; its exit says why
      throw err;
    });
    return (await Promise.all([fed, pipe.done]))[1];
  };

  try {
    const [encoded, decodedResult] = await Promise.race([Promise.all([encode(), decoded]), stopped]);
    opts.onProgress?.(1);
    return { frames: written, ...evenSize(outSize), fps, cpuSeconds: decodedResult.cpuSeconds + encoded.cpuSeconds };
  } catch (err) {
    fail(err);
    // SIGTERM does not wake an ffmpeg blocked on a full or empty pipe (the read or write restarts);
    // closing our ends does, without waiting for the SIGKILL.
    decoder.stdout.destroy();
    (encoder as FfmpegPipe | null)?.stdin.destroy();
    // Both processes are gone before this rejects: nothing keeps writing `dest` after it is removed.
    await Promise.allSettled([decoder.done, (encoder as FfmpegPipe | null)?.done]);
    await rm(opts.dest, { force: true });
    throw failure;
  } finally {
    opts.signal.removeEventListener('abort', onCallerAbort);
    // Not awaited: with a model call still running, the generator finishes only after it.
    outputs.return(undefined).catch(() => {});
  }
}

/** What can be refused before any process starts. `expected` is the frame count, estimated from duration × rate when the container has none. */
function preflight({ probe, maxFrames, signal }: VideoModelOptions) {
  const video = probe.video;
  if (!video) throw new JobError('no_video_stream', 'the source has no video stream to run the model on');
  const expected = video.frameCount ?? Math.round(probe.durationSeconds * video.frameRate);
  if (maxFrames !== undefined && expected > maxFrames) throw tooManyFrames(maxFrames, `the clip has ${expected} frames`);
  const fps = frameRateFraction(video, probe.durationSeconds);
  if (fps === null) throw new JobError('unsupported_input', 'the source does not say its frame rate');
  if (signal.aborted) throw new FfmpegError('aborted before start', [], true);
  return { video, expected, fps };
}

function tooManyFrames(max: number, what: string): JobError {
  return new JobError('unsupported_input', `${what}; this model takes clips of up to ${max} frames`);
}
