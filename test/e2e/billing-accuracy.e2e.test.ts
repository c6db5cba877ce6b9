/**
 * Billed CPU-seconds match the process times measured independently: wrappers named `ffmpeg` and
 * `ffprobe`, first on the worker's PATH, run the real program as a child and then log bash's
 * `times` (getrusage of the shell and of its waited-for children, to the millisecond: what the
 * kernel accounted, not ffmpeg's own report) with the arguments. Real transcodes of real clips
 * run one after another on one worker, and each job's billed cpu_seconds (the ledger's quantity
 * and the job's usage) must be within 1% of what the kernel counted for the runs in that job's
 * temp directory. A wrapper is part of what each run costs (a millisecond or two of bash), so the
 * comparison is with the wrapper and its child together; ffmpeg alone is printed too.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { apiClient, waitForJob, type ApiClient } from '../helpers/api-client.js';
import { VIDEO } from '../helpers/assets.js';
import { startFarm, type FarmProcesses } from '../helpers/farm-processes.js';
import { testWorld } from '../helpers/test-env.js';

/**
 * The real program in the foreground (stdin, stdout, stderr and signals as they were), then
 * `run<TAB>arguments` and the two lines of `times` (the shell's own, then its children's), written
 * by the shell itself: in a pipe or a $(…), `times` would be a subshell's.
 */
const wrapper = (real: string) => `#!/bin/bash
${real} "$@"
status=$?
{ printf 'run\\t%s\\n' "$*"; times; } >> "$MALAN_TEST_RUSAGE_LOG"
exit $status
`;

let farm: FarmProcesses;
let api: ApiClient;
let rusageLog: string;

beforeAll(async () => {
  const world = await testWorld();
  const bin = path.join(world.home, 'bin');
  mkdirSync(bin);
  for (const name of ['ffmpeg', 'ffprobe']) {
    writeFileSync(path.join(bin, name), wrapper(`/usr/bin/${name}`));
    chmodSync(path.join(bin, name), 0o755);
  }
  rusageLog = path.join(world.home, 'ffmpeg-rusage.jsonl');
  writeFileSync(rusageLog, '');
  // One worker: the jobs run one after another, each with the machine's cores to itself.
  farm = await startFarm(world.env, { workers: 1, workerEnv: { PATH: `${bin}:${process.env.PATH}`, MALAN_TEST_RUSAGE_LOG: rusageLog } });
  api = apiClient(farm.baseUrl, await farm.createKey('studio-meter'));
}, 120_000);
afterAll(() => farm?.stop());

/** CPU-seconds the kernel counted for the runs working in the job's temp directory: whole runs (wrapper and child), and the children alone. */
function measuredCpu(jobId: string): { cpu: number; ffmpeg: number; runs: number; each: string[] } {
  const seconds = (t: string) => {
    const m = /^(\d+)m([\d.]+)s$/.exec(t)!;
    return Number(m[1]) * 60 + Number(m[2]);
  };
  const lines = readFileSync(rusageLog, 'utf8').split('\n');
  const runs = lines.flatMap((line, i) => {
    if (!line.startsWith('run\t') || !line.includes(`malan-${jobId}-`)) return [];
    const [selfUser, selfSys] = lines[i + 1]!.trim().split(/\s+/).map(seconds) as [number, number];
    const [childUser, childSys] = lines[i + 2]!.trim().split(/\s+/).map(seconds) as [number, number];
    return [{ child: childUser + childSys, shell: selfUser + selfSys, what: path.basename(line.split(' ').at(-1)!) }];
  });
  const each = runs.map((r) => `${r.child.toFixed(3)}+${r.shell.toFixed(3)} s → ${r.what}`);
  const children = runs.reduce((n, r) => n + r.child, 0);
  return { cpu: children + runs.reduce((n, r) => n + r.shell, 0), ffmpeg: children, runs: runs.length, each };
}

const JOBS: Array<[string, string, Record<string, unknown>]> = [
  ['1080p clip → 720p MP4, preset slow', 'smpte-2997.mp4', { height: 720, preset: 'slow' }],
  ['480p clip → 480p MP4, preset slower', 'friday.mp4', { height: 480, preset: 'slower' }],
  ['540p clip → HLS ladder + MP4s', 'flower.mp4', { ladder: 'auto', formats: ['hls', 'mp4'] }],
];

it('bills the CPU-seconds of real transcodes within 1% of the kernel\'s count for their processes', async () => {
  const from = new Date().toISOString().slice(0, 10);
  const results: Array<{ job: string; what: string; id: string }> = [];
  for (const [what, clip, input] of JOBS) {
    const file = (await api.upload(readFileSync(path.join(VIDEO, clip)), 'video/mp4', clip)).body.id;
    const res = await api.post('/v1/jobs', { kind: 'transcode', input: { source: { file }, ...input } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const job = await waitForJob(api, res.body.id, 180_000);
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    results.push({ job: clip, what, id: job.id });
  }
  const to = new Date().toISOString().slice(0, 10);
  const ledger = (await api.get(`/v1/usage?group_by=job&from=${from}&to=${to}`)).body.results as Array<{ meter: string; job: string; quantity: number; measured_quantity: number }>;

  for (const { what, id } of results) {
    const job = (await api.get(`/v1/jobs/${id}`)).body;
    const measured = measuredCpu(id);
    const billed = ledger.find((r) => r.job === id && r.meter === 'cpu_seconds');
    console.log(
      `${what} (${id}): kernel ${measured.cpu.toFixed(3)} CPU-s over ${measured.runs} runs (the programs alone ${measured.ffmpeg.toFixed(3)}); billed ${billed?.quantity} (measured_quantity ${billed?.measured_quantity}), job usage.cpu_seconds ${job.usage.cpu_seconds}; ` +
        `diff ${billed ? (((billed.quantity - measured.cpu) / measured.cpu) * 100).toFixed(3) : '?'}%; wall ${job.usage.wall_seconds} s, path ${job.execution?.path}; runs: ${measured.each.join(', ')}`,
    );
    expect(measured.runs).toBeGreaterThan(0);
    expect(measured.cpu).toBeGreaterThan(2); // enough work that 1% is tens of milliseconds
    expect(billed, `no cpu_seconds charge for ${id}`).toBeDefined();
    // Soft: every job's figures are checked and printed, not only the first one off.
    expect.soft(Math.abs(billed!.quantity - measured.cpu), `${what}: billed ${billed!.quantity} vs kernel ${measured.cpu.toFixed(3)} CPU-s`).toBeLessThanOrEqual(measured.cpu * 0.01);
    expect.soft(Math.abs(job.usage.cpu_seconds - measured.cpu), `${what}: usage.cpu_seconds ${job.usage.cpu_seconds} vs kernel ${measured.cpu.toFixed(3)} CPU-s`).toBeLessThanOrEqual(measured.cpu * 0.01);
    // No GPU on this machine: the work ran on the CPU path and no GPU time is billed.
    expect.soft(job.execution.path).toBe('cpu');
    expect.soft(job.usage.gpu_seconds).toBe(0);
    expect.soft(ledger.filter((r) => r.job === id && r.meter === 'gpu_seconds')).toEqual([]);
  }
}, 300_000);
