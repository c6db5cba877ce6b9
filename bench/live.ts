/**
 * The live phase: how many 1080p channels × rungs the farm keeps in real time, and how the
 * deadline-miss rate rises past that. For each ladder, N = 1, 2, 3 … channels run at once, each fed
 * the pre-cut segments in real time (bench/live-source.ts), staggered evenly over one segment as
 * independent encoders would be; then each channel's own metrics are read back. The bare side, in
 * the same run and right after each farm point: the very rung argv the worker runs
 * (`rungCommand`, CPU path), spawned here on the same segments at the same times — N channels'
 * segments, every rung of a segment side by side — with no queue, no HTTP and no database.
 * Stops a ladder once the farm misses more than half its segments.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ApiClient } from '../test/helpers/api-client.js';
import type { LiveRung } from '../src/db/live-schema.js';
import { resolveLiveLadder } from '../src/jobs/live/live-ladder.js';
import { chooseLivePath, rungCommand } from '../src/jobs/live/segment-plan.js';
import type { ChannelInput } from '../src/jobs/live/spec.js';
import type { ChannelMetrics } from '../src/services/live-metrics.js';
import { median, quantile, round, sleep } from './measure.js';
import { pushChannel, segmentEnds, type LiveSource } from './live-source.js';

export const LIVE_LADDERS = [
  { label: '720p', ladder: [{ height: 720 }] },
  { label: '720/480/360', ladder: [{ height: 720 }, { height: 480 }, { height: 360 }] },
  { label: 'source+720/480/360', ladder: [{ passthrough: true }, { height: 720 }, { height: 480 }, { height: 360 }] },
] as const satisfies ReadonlyArray<{ label: string; ladder: ChannelInput['ladder'] }>;

export interface LiveProfile {
  /** Stream each farm channel is fed, and the (shorter) stretch of it the bare side replays. */
  streamSeconds: number;
  bareSeconds: number;
  /** The most channels tried; the steps are CHANNEL_STEPS up to it. */
  maxChannels: number;
  /** Indexes into LIVE_LADDERS. */
  ladders: number[];
  /** The pusher waits for each segment's answer before its playlist (ffmpeg does not): see live-source.ts. */
  awaitSegment: boolean;
}

export const LIVE_PROFILES: Record<'full' | 'quick', LiveProfile> = {
  full: { streamSeconds: 16, bareSeconds: 8, maxChannels: 8, ladders: [0, 1, 2], awaitSegment: false },
  quick: { streamSeconds: 10, bareSeconds: 6, maxChannels: 2, ladders: [0, 2], awaitSegment: false },
};
export const LIVE_SEGMENT_SECONDS = 2;
/** Channel counts tried, in order, up to the profile's maxChannels: finer where knees are on 2 cores. */
const CHANNEL_STEPS = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32];
/** The channel default (spec.ts): a segment is due 1.5 of its durations after it arrived. */
const DEADLINE_FACTOR = 1.5;
/** Past this miss rate the curve has shown its knee: more channels only add time. */
const STOP_MISS_RATE = 0.5;

type Rtf = Record<string, { p50: number; max: number }>;

export interface LivePoint {
  ladder: string;
  rungs: number;
  channels: number;
  farm: {
    /** Segments sent; every one not published is a miss: a gap, or never placed by a playlist (`unplaced`). */
    segments: number;
    published: number;
    gaps: number;
    unplaced: number;
    /** Still pending when the wait ended (its deadline long past): should be 0. */
    pendingAtEnd: number;
    gapsByReason: Record<string, number>;
    lateDiscarded: number;
    missRate: number;
    /** published − arrived: the median of the channels' p50s, and the largest of their p95s. */
    latency: { p50: number | null; p95: number | null };
    /** arrived → the worker's start report: the median of the channels' p50s, the largest p95. */
    queueWait: { p50: number | null; p95: number | null };
    rtf: Rtf;
    /** The farm's answer to each PUT (ms from its last byte): storing + ffprobe a segment, placing + queueing a playlist. */
    ingestMs: { segment: { p50: number; p95: number }; playlist: { p50: number; p95: number } };
    /** Pusher pacing error (ms) and requests the farm refused: both should be ~0 and empty. */
    pushLateMs: { p50: number; max: number };
    refused: string[];
    waitingForWorker: string[];
  };
  bare: { segments: number; misses: number; missRate: number; latency: { p50: number; p95: number }; rtf: Rtf };
  /**
   * farm RTF p50 ÷ bare RTF p50 per rung; farm latency − bare (arrival → every rung encoded), s,
   * null where the bare side missed (its latency is then a backlog) or the farm missed over half
   * (its latency counts published segments only: the survivors').
   */
  ratios: { rtf: Record<string, number | null>; addedLatency: { p50: number | null; p95: number | null } };
  wallSeconds: number;
}

export interface LiveResults {
  settings: LiveProfile & { segmentSeconds: number; deadlineFactor: number; liveConcurrency: number; stopMissRate: number; source: string; sourceArgs: string[]; bareCommands: Record<string, string[]> };
  points: LivePoint[];
  /** Per ladder: the most channels with no farm miss (and, beside it, with no bare miss). */
  capacity: Array<{ ladder: string; rungs: number; farmChannels: number; bareChannels: number; reachedMax: boolean }>;
  loadAverageAtStart: number[];
  loadAverageAtEnd: number[];
}

export async function liveBench(opts: { api: ApiClient; source: LiveSource; ffmpegPath: string; tmp: string; profile: LiveProfile; liveConcurrency: number; say: (msg: string) => void }): Promise<LiveResults> {
  const { api, source, profile, say } = opts;
  const loadAverageAtStart = loadAverage();
  const segMs = source.segmentSeconds * 1000;
  const farmCount = Math.min(source.segments.length, Math.round(profile.streamSeconds / source.segmentSeconds));
  const bareCount = Math.min(farmCount, Math.round(profile.bareSeconds / source.segmentSeconds));
  const points: LivePoint[] = [];
  const bareCommands: Record<string, string[]> = {};
  for (const index of profile.ladders) {
    const { label, ladder } = LIVE_LADDERS[index]!;
    const rungs = resolveLiveLadder(ladder as ChannelInput['ladder'], source.segments[0]!.probe).rungs;
    for (const rung of rungs) bareCommands[rung.name] ??= bareArgs(rung, source, 0, '<out>.ts');
    for (const n of channelSteps(profile.maxChannels)) {
      const started = performance.now();
      say(`live ${label}: ${n} channel${n > 1 ? 's' : ''} × ${farmCount} segments through the farm, then ${bareCount} each bare`);
      const farm = await farmPoint({ api, source, ladder: ladder as ChannelInput['ladder'], channels: n, count: farmCount, segMs, awaitSegment: profile.awaitSegment });
      const bare = await barePoint({ ffmpegPath: opts.ffmpegPath, source, rungs, channels: n, count: bareCount, segMs, dir: path.join(opts.tmp, `live-bare-${index}-${n}`) });
      const rtfRatio = Object.fromEntries(rungs.map((r) => [r.name, farm.rtf[r.name] && bare.rtf[r.name]?.p50 ? round(farm.rtf[r.name]!.p50 / bare.rtf[r.name]!.p50) : null]));
      // Only against a bare side that kept up: past its knee, bare latency is a queue, not encode time.
      // Past the farm's own knee its latency is the few survivors': not compared either.
      const minus = (a: number | null, b: number) => (a === null || bare.misses > 0 || farm.missRate > STOP_MISS_RATE ? null : round(a - b));
      points.push({ ladder: label, rungs: rungs.length, channels: n, farm, bare, ratios: { rtf: rtfRatio, addedLatency: { p50: minus(farm.latency.p50, bare.latency.p50), p95: minus(farm.latency.p95, bare.latency.p95) } }, wallSeconds: round((performance.now() - started) / 1000, 1) });
      say(`  farm: ${farm.segments - farm.published}/${farm.segments} missed${farm.unplaced ? ` (${farm.unplaced} never placed)` : ''}, latency p50 ${farm.latency.p50} s p95 ${farm.latency.p95} s; bare: ${bare.misses}/${bare.segments} missed, p50 ${bare.latency.p50} s`);
      if (farm.missRate > STOP_MISS_RATE) break;
    }
  }
  const capacity = profile.ladders.map((index) => {
    const label = LIVE_LADDERS[index]!.label;
    const mine = points.filter((p) => p.ladder === label);
    const largest = (ok: (p: LivePoint) => boolean) => Math.max(0, ...mine.filter(ok).map((p) => p.channels));
    const farmChannels = largest((p) => p.farm.published === p.farm.segments);
    return { ladder: label, rungs: mine[0]?.rungs ?? 0, farmChannels, bareChannels: largest((p) => p.bare.misses === 0), reachedMax: farmChannels === Math.max(...channelSteps(profile.maxChannels)) };
  });
  return {
    settings: {
      ...profile,
      segmentSeconds: source.segmentSeconds,
      deadlineFactor: DEADLINE_FACTOR,
      liveConcurrency: opts.liveConcurrency,
      stopMissRate: STOP_MISS_RATE,
      source: `${source.width}x${source.height} ${source.fps} fps H.264 (x264 veryfast, keyframe every ${source.segmentSeconds} s) + AAC, testsrc2 + sine, ${source.segments.length} MPEG-TS segments of ${source.segmentSeconds} s, ${round(median(source.segments.map((s) => (s.bytes * 8) / s.duration / 1e6)), 1)} Mb/s`,
      sourceArgs: source.args,
      bareCommands,
    },
    points,
    capacity,
    loadAverageAtStart,
    loadAverageAtEnd: loadAverage(),
  };
}

async function farmPoint(opts: { api: ApiClient; source: LiveSource; ladder: ChannelInput['ladder']; channels: number; count: number; segMs: number; awaitSegment: boolean }): Promise<LivePoint['farm']> {
  const { api } = opts;
  const ids: string[] = [];
  try {
    const ingest: string[] = [];
    for (let k = 0; k < opts.channels; k++) {
      const res = await api.post('/v1/live/channels', { name: `bench ${k + 1}/${opts.channels}`, ladder: opts.ladder, segment_duration: opts.source.segmentSeconds });
      if (res.status !== 201) throw new Error(`POST /v1/live/channels answered ${res.status}: ${JSON.stringify(res.body)}`);
      ids.push(res.body.id);
      ingest.push(res.body.ingest_url);
    }
    const startAt = performance.now() + 300;
    const pushes = await Promise.all(ingest.map((url, k) => pushChannel({ ingestUrl: url, source: opts.source, count: opts.count, startAt: startAt + (k * opts.segMs) / opts.channels, awaitSegment: opts.awaitSegment })));
    // Every placed segment resolves by its deadline (the worker skips it, the API's sweeper marks
    // it a gap); one that no playlist placed never does, so the wait is bounded.
    const views = await settled(api, ids, opts.count, DEADLINE_FACTOR * opts.segMs + 4000);
    const metrics = views.map((v) => v.metrics);
    const sum = (f: (m: ChannelMetrics) => number) => metrics.reduce((a, m) => a + f(m), 0);
    const published = sum((m) => m.segments.published);
    const gaps = sum((m) => m.segments.gaps);
    const gapsByReason: Record<string, number> = {};
    for (const m of metrics) for (const [reason, n] of Object.entries(m.gaps_by_reason)) gapsByReason[reason] = (gapsByReason[reason] ?? 0) + n;
    const values = (f: (m: ChannelMetrics) => number | null) => metrics.map(f).filter((v): v is number => v !== null);
    const rtf: Rtf = {};
    for (const rung of new Set(metrics.flatMap((m) => Object.keys(m.realtime_factor)))) {
      const per = metrics.map((m) => m.realtime_factor[rung]).filter((r) => r !== undefined);
      rtf[rung] = { p50: round(median(per.map((r) => r.p50))), max: round(Math.max(...per.map((r) => r.max))) };
    }
    const late = pushes.flatMap((p) => p.lateMs);
    const maxOrNull = (v: number[]) => (v.length ? round(Math.max(...v)) : null);
    const medianOrNull = (v: number[]) => (v.length ? round(median(v)) : null);
    const sent = opts.channels * opts.count;
    return {
      segments: sent,
      published,
      gaps,
      unplaced: sent - published - gaps - sum((m) => m.segments.pending),
      pendingAtEnd: sum((m) => m.segments.pending),
      gapsByReason,
      lateDiscarded: sum((m) => m.segments.late_discarded),
      missRate: round((sent - published) / sent),
      latency: { p50: medianOrNull(values((m) => m.latency_seconds.p50)), p95: maxOrNull(values((m) => m.latency_seconds.p95)) },
      queueWait: { p50: medianOrNull(values((m) => m.queue_wait_seconds.p50)), p95: maxOrNull(values((m) => m.queue_wait_seconds.p95)) },
      rtf,
      ingestMs: { segment: p50p95(pushes.flatMap((p) => p.segmentAnswerMs)), playlist: p50p95(pushes.flatMap((p) => p.playlistAnswerMs)) },
      pushLateMs: { p50: round(median(late), 1), max: round(Math.max(...late), 1) },
      refused: pushes.flatMap((p) => p.refused),
      waitingForWorker: [...new Set(views.map((v) => v.waiting_for_worker).filter((w): w is string => Boolean(w)))],
    };
  } finally {
    for (const id of ids) await api.call('DELETE', `/v1/live/channels/${id}`);
  }
}

interface ChannelView {
  id: string;
  metrics: ChannelMetrics;
  waiting_for_worker: string | null;
}

/** Polls the channels until each has `count` segments resolved (none pending), or the time is up. */
async function settled(api: ApiClient, ids: string[], count: number, timeoutMs: number): Promise<ChannelView[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const views = await Promise.all(ids.map(async (id) => (await api.get<ChannelView>(`/v1/live/channels/${id}`)).body));
    const done = views.every((v) => v.metrics.segments.pending === 0 && v.metrics.segments.published + v.metrics.segments.gaps >= count);
    if (done || Date.now() > until) return views;
    await sleep(500);
  }
}

/** The worker's argv for one rung of segment i (the CPU path: this bench's bare side has no GPU). */
function bareArgs(rung: LiveRung, source: LiveSource, i: number, output: string): string[] {
  const probe = source.segments[i]!.probe;
  return rungCommand({ rung, source: probe, input: source.segments[i]!.file, output, choice: chooseLivePath(probe, null) });
}

async function barePoint(opts: { ffmpegPath: string; source: LiveSource; rungs: LiveRung[]; channels: number; count: number; segMs: number; dir: string }): Promise<LivePoint['bare']> {
  mkdirSync(opts.dir, { recursive: true });
  try {
    const ends = segmentEnds(opts.source, opts.count);
    const startAt = performance.now() + 200;
    const runs = await Promise.all(
      Array.from({ length: opts.channels }, (_, k) =>
        ends.map(async (end, i) => {
          const due = startAt + (k * opts.segMs) / opts.channels + end * 1000;
          await sleep(due - performance.now());
          const arrived = performance.now();
          const seconds = await Promise.all(opts.rungs.map((r) => timedFfmpeg(opts.ffmpegPath, bareArgs(r, opts.source, i, path.join(opts.dir, `${k}-${i}-${r.name}.ts`)))));
          const duration = opts.source.segments[i]!.duration;
          // As the farm sets it (live-ingest.ts): a short last segment still gets a whole segment's time.
          const deadline = DEADLINE_FACTOR * Math.max(duration, opts.source.segmentSeconds);
          return { wall: (performance.now() - arrived) / 1000, deadline, rungs: Object.fromEntries(opts.rungs.map((r, j) => [r.name, seconds[j]! / duration])) };
        }),
      ).flat(),
    );
    const walls = runs.map((r) => r.wall);
    const misses = runs.filter((r) => r.wall > r.deadline).length;
    const rtf: Rtf = Object.fromEntries(opts.rungs.map((r) => [r.name, { p50: round(median(runs.map((x) => x.rungs[r.name]!))), max: round(Math.max(...runs.map((x) => x.rungs[r.name]!))) }]));
    return { segments: runs.length, misses, missRate: round(misses / runs.length), latency: { p50: round(median(walls)), p95: round(quantile(walls, 0.95)) }, rtf };
  } finally {
    rmSync(opts.dir, { recursive: true, force: true });
  }
}

/** Spawn → exit of one ffmpeg, in seconds; as the worker's rung time is (runFfmpeg's start to end). */
function timedFfmpeg(ffmpegPath: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(ffmpegPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve((performance.now() - started) / 1000) : reject(new Error(`bare rung ffmpeg exited ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`))));
  });
}

const p50p95 = (ms: number[]) => ({ p50: round(quantile(ms, 0.5), 1), p95: round(quantile(ms, 0.95), 1) });

function channelSteps(max: number): number[] {
  const steps = CHANNEL_STEPS.filter((n) => n <= max);
  return steps.includes(max) ? steps : [...steps, max];
}

const loadAverage = () => os.loadavg().map((l) => round(l, 2));
