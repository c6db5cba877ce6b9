/**
 * Runs an ABR ladder job: one ffmpeg run packages every rung as HLS (fMP4/CMAF), the packaging is
 * verified (playlists, segments, durations, each rung's size and codec read back with ffprobe),
 * progressive MP4s are remuxed from the same segments when asked, a poster and a thumbnail sprite
 * with its WebVTT track are made, and everything is stored under the job by relative name.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { contentTypeFor } from '../../media/content-types.js';
import { parseMaster, parseMediaPlaylist } from '../../media/hls-playlists.js';
import type { MediaProbe } from '../../media/media-probe.js';
import type { ReportedOutput } from '../../queue/messages.js';
import { JobError } from '../job-error.js';
import type { JobResult, JobRuntime } from '../job-runtime.js';
import { planLadder, type LadderPlan, type Rung } from './ladder.js';
import { executionSummary, runAttempts } from './run-steps.js';
import { outputFormats, type TranscodeInput } from './spec.js';
import { makeThumbnails } from './run-thumbnails.js';
import { measureQuality } from './quality.js';
import { outputFrameRate } from './plan.js';
import { GLOBAL_ARGS } from './transcode-commands.js';

const DURATION_TOLERANCE_SECONDS = 0.5;
const UPLOADS_AT_ONCE = 6;

export async function runLadder(rt: JobRuntime<TranscodeInput>, source: string, probe: MediaProbe): Promise<JobResult> {
  const hlsDir = path.join(rt.workDir, 'out/hls');
  await mkdir(hlsDir, { recursive: true });
  const plan = planLadder(rt.input, probe, rt.caps, { input: source, outDir: hlsDir });
  rt.log('info', `ladder: ${plan.rungs.map((r) => `${r.name} ${r.width}x${r.height} ${r.codec} ${Math.round(r.bitsPerSecond / 1000)}k`).join(' | ')}; ${plan.segmentSeconds} s segments; paths to try: ${plan.attempts.map((a) => a.path).join(' → ')}`);
  const outcome = await runAttempts(rt, plan.attempts, plan.outputSeconds, { from: 0.05, to: 0.8 });

  const outRoot = path.join(rt.workDir, 'out');
  // The HLS tree goes up while it is verified; if verification fails, what went up is discarded.
  const hlsUpload = uploadTree(rt, outRoot, (name) => name.startsWith('hls/'));
  hlsUpload.catch(() => undefined); // awaited below
  let assembled: Awaited<ReturnType<typeof verifyPackaging>>;
  try {
    assembled = await verifyPackaging(rt, hlsDir, plan, probe, outcome.inputErrors);
  } catch (err) {
    const sent = await hlsUpload.catch(() => new Map<string, string>());
    for (const name of sent.keys()) await rt.transfer.discard(name, rt.signal).catch(() => undefined);
    throw err;
  }
  rt.progress(0.85);
  let cpuSeconds = outcome.cpuSeconds;
  const outputs: Array<ReportedOutput & { name: string }> = [
    { file: '', role: 'hls-master', name: 'hls/master.m3u8' },
    ...plan.layout.variants.map((v, i) => ({ file: '', role: 'hls-playlist', name: `hls/${v.playlist}`, rendition: rendition(plan.rungs[i]!) })),
    ...(plan.layout.audio ? [{ file: '', role: 'hls-audio', name: `hls/${plan.layout.audio.playlist}` }] : []),
  ];
  if (outputFormats(rt.input).includes('mp4')) {
    const mp4Dir = path.join(rt.workDir, 'out/mp4');
    await mkdir(mp4Dir, { recursive: true });
    for (const [i, rung] of plan.rungs.entries()) {
      const out = path.join(mp4Dir, `${rung.name}.mp4`);
      // The same encoded frames as the HLS rung, rewritten as one progressive file: no second encode.
      const args = [...GLOBAL_ARGS, '-i', assembled.video[i]!, ...(assembled.audio ? ['-i', assembled.audio] : []), '-map', '0:v:0', ...(assembled.audio ? ['-map', '1:a:0'] : []), '-c', 'copy', ...(rung.codec === 'hevc' ? ['-tag:v', 'hvc1'] : []), '-movflags', '+faststart', '-f', 'mp4', out];
      cpuSeconds += (await rt.media.runFfmpeg(args, { signal: rt.signal, killGraceMs: rt.killGraceMs, onLog: (l) => rt.log('info', l) })).cpuSeconds;
      outputs.push({ file: '', role: 'mp4', name: `mp4/${rung.name}.mp4`, rendition: rendition(rung) });
    }
    rt.log('info', `progressive MP4s remuxed from the HLS segments: ${plan.rungs.map((r) => `${r.name}.mp4`).join(', ')}`);
  }
  rt.progress(0.88);
  if (rt.input.quality_report === true) {
    const report = await measureQuality(
      async (args, onLog) => {
        cpuSeconds += (await rt.media.runFfmpeg(args, { signal: rt.signal, killGraceMs: rt.killGraceMs, onLog })).cpuSeconds;
      },
      plan.rungs.map((r, i) => ({ name: r.name, file: assembled.video[i]!, width: r.width, height: r.height, frameRate: outputFrameRate(probe.video!.frameRate) })),
      source,
      probe.video!.index,
    );
    await mkdir(path.join(rt.workDir, 'out/quality'), { recursive: true });
    // PSNR of identical pictures is infinite, which JSON cannot hold: written as "inf", as ffmpeg prints it.
    await writeFile(path.join(rt.workDir, 'out/quality/report.json'), JSON.stringify(report, (_k, v: unknown) => (v === Infinity ? 'inf' : v), 2));
    outputs.push({ file: '', role: 'quality-report', name: 'quality/report.json' });
    rt.log('info', `quality: ${report.renditions.map((r) => `${r.name} SSIM ${r.ssim.all.toFixed(4)} PSNR ${r.psnr.average.toFixed(2)} dB`).join(' | ')}`);
  }
  rt.progress(0.9);
  const thumbs = rt.input.thumbnails === false ? { outputs: [], warnings: [], cpuSeconds: 0 } : await makeThumbnails(rt, source, probe, path.join(rt.workDir, 'out'));
  cpuSeconds += thumbs.cpuSeconds;
  outputs.push(...thumbs.outputs);
  rt.progress(0.93);

  const stored = new Map([...(await hlsUpload), ...(await uploadTree(rt, outRoot, (name) => !name.startsWith('hls/')))]);
  rt.log('info', `stored ${stored.size} files (${outcome.ran.path} path)`);
  const { gpu, execution } = executionSummary(rt, outcome, probe);
  return {
    outputs: outputs.map(({ name, ...o }) => ({ ...o, file: stored.get(name)! })),
    usage: {
      cpuSeconds,
      gpuSeconds: outcome.gpuSeconds,
      gpuModel: gpu?.name ?? 'cpu',
      gpuUuid: gpu?.uuid ?? null,
      // Media seconds written, every rung counted: what a ladder produces.
      outputSeconds: Math.round(assembled.durationSeconds * plan.rungs.length * 1000) / 1000,
      meters: { renditions: plan.rungs.map((r) => ({ height: r.height, codec: r.codec, seconds: assembled.durationSeconds })) },
    },
    execution: { ...execution, rungs: plan.rungs, segment_seconds: plan.segmentSeconds, warnings: thumbs.warnings },
  };
}

const rendition = (r: Rung) => ({ name: r.name, width: r.width, height: r.height, codec: r.codec, bitrate: r.bitsPerSecond });

/**
 * Reads back what ffmpeg packaged: the master names every rung, every playlist's segments exist
 * and add up to the source's duration, and each rung (init + segments joined, which is also what
 * the MP4 remux reads) has the planned size and codec.
 */
async function verifyPackaging(rt: JobRuntime<TranscodeInput>, dir: string, plan: LadderPlan, source: MediaProbe, inputErrors: string[]) {
  const fail = (problem: string): never => {
    if (inputErrors.length) throw new JobError('media_unreadable', `the source is damaged or truncated (ffmpeg: "${inputErrors[0]}"); the packaging would be wrong: ${problem}`);
    throw new JobError('output_verification_failed', `the HLS packaging failed verification: ${problem}`);
  };
  const master = parseMaster(await readFile(path.join(dir, plan.layout.master), 'utf8').catch(() => fail('no master playlist was written')));
  const listed = new Set(master.variants.map((v) => v.uri));
  const entries = [...plan.layout.variants, ...(plan.layout.audio ? [plan.layout.audio] : [])];
  // Renditions are checked side by side: most of an ffprobe is process start-up.
  const checked = await Promise.all(
    entries.map(async (entry, i) => {
      if (!listed.has(entry.playlist)) fail(`the master does not list ${entry.playlist}`);
      const media = parseMediaPlaylist(await readFile(path.join(dir, entry.playlist), 'utf8').catch(() => fail(`${entry.playlist} is missing`)));
      const total = media.segments.reduce((sum, s) => sum + s.duration, 0);
      if (source.durationSeconds > 0 && Math.abs(total - source.durationSeconds) > DURATION_TOLERANCE_SECONDS) {
        fail(`${entry.playlist} lasts ${total.toFixed(2)} s, the source ${source.durationSeconds.toFixed(2)} s`);
      }
      const parts = [media.map ?? fail(`${entry.playlist} has no init section`), ...media.segments.map((s) => s.uri)].map((u) => path.join(dir, entry.dir, u));
      const whole = path.join(rt.workDir, `rung-${i}.mp4`);
      await concatenate(parts, whole).catch((e: Error) => fail(`${entry.playlist} names a segment that is not there (${e.message.replace(rt.workDir, '')})`));
      const rung = plan.rungs[i];
      if (rung) {
        const probe = await rt.media.probeMedia(whole, { signal: rt.signal }).catch((e: Error) => fail(`${entry.playlist} cannot be read back: ${e.message}`));
        const v = probe.video ?? fail(`${rung.name} has no video`);
        if (v.height !== rung.height || v.width !== rung.width) fail(`${rung.name} is ${v.width}x${v.height}, planned ${rung.width}x${rung.height}`);
        if (v.codec !== rung.codec) fail(`${rung.name} is ${v.codec}, planned ${rung.codec}`);
      }
      return { whole, total };
    }),
  );
  const joined = checked.map((c) => c.whole);
  const durationSeconds = Math.max(...checked.map((c) => c.total));
  rt.log('info', `verified: master with ${master.variants.length} entries; every segment present; ${durationSeconds.toFixed(2)} s per rendition`);
  return { video: joined.slice(0, plan.rungs.length), audio: plan.layout.audio ? joined[plan.rungs.length]! : null, durationSeconds };
}

async function concatenate(parts: string[], dest: string): Promise<void> {
  const out = createWriteStream(dest);
  for (const part of parts) await pipeline(createReadStream(part), out, { end: false });
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

/** Stores the files under `root` that `take` names, by relative name, a few at a time; returns name → file id. */
async function uploadTree(rt: JobRuntime<TranscodeInput>, root: string, take: (name: string) => boolean): Promise<Map<string, string>> {
  const names = (await readdir(root, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .filter(take)
    .sort();
  const stored = new Map<string, string>();
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++]!;
      stored.set(name, await rt.transfer.upload(name, path.join(root, name), contentTypeFor(name), rt.signal));
    }
  };
  await Promise.all(Array.from({ length: Math.min(UPLOADS_AT_ONCE, names.length) }, worker));
  return stored;
}

