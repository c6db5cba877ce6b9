/**
 * Billing under chaos: 50 mixed jobs (MP4s, HLS ladders, predictions) while worker processes are
 * SIGKILLed at random and replaced. Afterwards every job has ended once; each succeeded job has
 * exactly one attempt billed to the tenant and no other attempt of it in the tenant's ledger;
 * lost attempts are the platform's cost; the CloudEvents outbox holds every charge once; the
 * invoice adds up to the ledger.
 *
 * The kills are drawn from a seeded generator (MALAN_CHAOS_SEED to replay one; the seed is logged).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { apiClient, waitForJob, type ApiClient } from '../helpers/api-client.js';
import { IMAGES, MODELS } from '../helpers/assets.js';
import { startFarm, waitFor, type FarmProcesses } from '../helpers/farm-processes.js';
import { testWorld } from '../helpers/test-env.js';

const SEED = Number(process.env.MALAN_CHAOS_SEED ?? Date.now() % 2 ** 31);
const JOBS = 50;
const TERMINAL = ['succeeded', 'failed', 'canceled'];

interface Attempt {
  attempt: number;
  worker_id: string;
  status: 'running' | 'succeeded' | 'failed' | 'canceled' | 'lost';
  billed_to: 'tenant' | 'platform' | null;
  billing_reason: string | null;
  usage: { cpu_seconds: number; billable: boolean; reports: number } | null;
}
interface UsageRow {
  meter: string;
  job: string | null;
  attempt: number | null;
  billed_to: 'tenant' | 'platform';
  quantity: number;
  amount_micros: number;
  charges: number;
}
interface Kill {
  pid: number;
  jobs: string[];
  at: string;
}

let farm: FarmProcesses;
let api: ApiClient;
let ops: ApiClient;
let sources: { a: string; b: string; image: string };
const startDay = new Date().toISOString().slice(0, 10);

/** mulberry32: a small seeded generator, so that a failing run's kill pattern can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = seeded(SEED);

beforeAll(async () => {
  console.log(`billing chaos seed: ${SEED} (replay with MALAN_CHAOS_SEED=${SEED})`);
  // Short locks so that dead workers are noticed within seconds; usage every 0.3 s so that a
  // killed attempt has reported some of the time it used.
  const world = await testWorld({
    env: { MALAN_LOCK_MS: '3000', MALAN_STALLED_INTERVAL_MS: '1000', MALAN_USAGE_INTERVAL_SECONDS: '0.3', MALAN_RECONCILE_SECONDS: '2', MALAN_KILL_GRACE_MS: '1000' },
  });
  farm = await startFarm(world.env, { workers: 3 });
  api = apiClient(farm.baseUrl, await farm.createKey('studio-chaos'));
  ops = apiClient(farm.baseUrl, await farm.createKey('ops', true));
  const labels = readFileSync(path.join(MODELS, 'imagenet-labels.txt'), 'utf8').trim().split('\n').map((l) => l.slice(l.indexOf(',') + 1));
  const manifest = path.join(farm.home, 'squeezenet.json');
  writeFileSync(
    manifest,
    JSON.stringify({
      name: 'test/squeezenet',
      license: 'as its source says (test data)',
      task: 'image-classification',
      weights: { path: path.join(MODELS, 'squeezenet1.0-fp16.onnx') },
      preprocess: { fit: 'fill', color: 'bgr', layout: 'nchw', scale: 1 },
      postprocess: { type: 'classification', labels, top_k: 3 },
    }),
  );
  await farm.cli(['models', 'add', manifest]);
  const upload = async (bytes: Buffer, type: string, name: string) => (await api.upload(bytes, type, name)).body.id as string;
  sources = {
    a: await upload(clip('a.mp4', 'testsrc2', 3), 'video/mp4', 'a.mp4'),
    b: await upload(clip('b.mp4', 'mandelbrot', 4), 'video/mp4', 'b.mp4'),
    image: await upload(readFileSync(path.join(IMAGES, 'cat.jpg')), 'image/jpeg', 'cat.jpg'),
  };
}, 120_000);
afterAll(() => farm?.stop());

/** A small clip from lavfi: a second or two of work per job on this machine. */
function clip(name: string, source: string, seconds: number): Buffer {
  const file = path.join(farm.home, name);
  execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `${source}=s=320x240:r=25`, '-f', 'lavfi', '-i', 'sine=f=440', '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', file]);
  return readFileSync(file);
}

/** Submits the jobs into `ids` (id → what it is) as it goes. */
async function submitAll(ids: Map<string, string>): Promise<void> {
  const { a, b, image } = sources;
  const inputs: Array<[string, Record<string, unknown>]> = [];
  for (let i = 0; i < JOBS; i++) {
    const source = { file: i % 2 ? a : b };
    const r = i % 25;
    if (r < 14) inputs.push(['mp4', { kind: 'transcode', input: { source, height: r % 2 ? 240 : 180, preset: 'slow' } }]);
    else if (r < 21) inputs.push(['ladder', { kind: 'transcode', input: { source, ...(r % 2 ? { ladder: 'auto', formats: ['hls', 'mp4'] } : { ladder: [{ height: 240 }, { height: 144 }], segment_duration: 2 }) } }]);
    else inputs.push(['prediction', { kind: 'inference', input: { model: 'test/squeezenet', inputs: { image: { file: image } } } }]);
  }
  // Shuffled (seeded) and sent over the first seconds, so that kills land on every kind.
  for (let i = inputs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [inputs[i], inputs[j]] = [inputs[j]!, inputs[i]!];
  }
  for (const [label, body] of inputs) {
    const res = await api.post('/v1/jobs', body);
    if (res.status !== 201) throw new Error(`submit failed: ${res.status} ${JSON.stringify(res.body)}`);
    ids.set(res.body.id, label);
    await sleep(150);
  }
}

const alive = (w: ChildProcess) => w.exitCode === null && w.signalCode === null;

/** Live workers running something now: the parent of a job's ffmpeg, or the worker of a running attempt. */
async function busyWorkers(): Promise<Map<ChildProcess, Set<string>>> {
  const jobsByPid = new Map<number, Set<string>>();
  const add = (pid: number, job: string) => jobsByPid.set(pid, (jobsByPid.get(pid) ?? new Set()).add(job));
  const tmp = `${os.tmpdir()}/malan-`;
  for (const line of execFileSync('ps', ['-eo', 'ppid=,args='], { encoding: 'utf8' }).split('\n')) {
    const m = /^\s*(\d+)\s+(\S*ffmpeg\s.*)$/.exec(line);
    const job = m && m[2]!.includes(tmp) ? /malan-(job_[a-z0-9]+)-/.exec(m[2]!)?.[1] : undefined;
    if (job) add(Number(m![1]), job);
  }
  const pidOf = new Map<string, number>(((await ops.get('/v1/admin/workers')).body.results as Array<{ id: string; pid: number }>).map((w) => [w.id, w.pid]));
  for (const job of (await api.get('/v1/jobs?status=running&limit=100')).body.results as Array<{ id: string }>) {
    const running = ((await api.get(`/v1/jobs/${job.id}/attempts`)).body.results as Attempt[]).filter((a) => a.status === 'running');
    for (const a of running) if (pidOf.has(a.worker_id)) add(pidOf.get(a.worker_id)!, job.id);
  }
  return new Map(farm.workers.filter((w) => alive(w) && jobsByPid.has(w.pid!)).map((w) => [w, jobsByPid.get(w.pid!)!]));
}

/** Kills a random busy worker every 1.5–3 s and starts another in its place, until the work is done. */
async function chaos(ids: Map<string, string>, submitted: Promise<unknown>, until: number): Promise<Kill[]> {
  const kills: Kill[] = [];
  const replacements: Promise<unknown>[] = [];
  let allSubmitted = false;
  let submitFailed = false;
  void submitted.then(
    () => (allSubmitted = true),
    () => (submitFailed = true),
  );
  while (Date.now() < until && !submitFailed) {
    await sleep(1500 + rand() * 1500);
    if (allSubmitted) {
      const open = await Promise.all([...ids.keys()].map(async (id) => !TERMINAL.includes((await api.get(`/v1/jobs/${id}`)).body.status)));
      if (!open.some(Boolean)) break;
    }
    const busy = [...(await busyWorkers()).entries()];
    // At least one other worker stays alive (one just started counts: it is coming up).
    if (!busy.length || farm.workers.filter(alive).length < 2) continue;
    const [victim, jobs] = busy[Math.floor(rand() * busy.length)]!;
    victim.kill('SIGKILL');
    kills.push({ pid: victim.pid!, jobs: [...jobs], at: new Date().toISOString() });
    console.log(`chaos: SIGKILL worker pid ${victim.pid} running ${[...jobs].join(', ')}`);
    // The replacement comes up while the next kill is drawn, as a restarted container would.
    replacements.push(farm.startWorker());
  }
  await Promise.all(replacements);
  return kills;
}

/** Queue depths from /metrics: nothing waiting or active anywhere (reports included) once the farm is at rest. */
async function queuesAtRest(): Promise<boolean> {
  const text = await (await fetch(`${farm.baseUrl}/metrics`)).text();
  const depths = text.split('\n').filter((l) => l.startsWith('malan_queue_jobs{') && /state="(waiting|prioritized|active|delayed|waiting-children)"/.test(l));
  if (!depths.some((l) => l.includes('queue="reports"'))) throw new Error(`no queue depths in /metrics:\n${text.slice(0, 2000)}`);
  return depths.every((l) => / 0$/.test(l));
}

async function snapshot(ids: string[]) {
  const jobs = await Promise.all(ids.map(async (id) => (await api.get(`/v1/jobs/${id}`)).body));
  const attempts = new Map(await Promise.all(ids.map(async (id) => [id, (await api.get(`/v1/jobs/${id}/attempts`)).body.results as Attempt[]] as const)));
  const endDay = new Date().toISOString().slice(0, 10);
  const usage = (await api.get(`/v1/usage?group_by=job,attempt,billed_to&billed_to=all&from=${startDay}&to=${endDay}`)).body;
  return { jobs, attempts, rows: usage.results as UsageRow[], endDay };
}

async function outbox(): Promise<Array<{ id: string; type: string; subject: string; data: Record<string, unknown> }>> {
  const events = [];
  let after = 0;
  for (;;) {
    const page = (await ops.get(`/v1/admin/billing/events?after=${after}&limit=1000`)).body;
    events.push(...page.events);
    if (!page.has_more) return events;
    after = page.next_after;
  }
}

it('50 mixed jobs under random SIGKILLs: each ends once, one billed successful attempt each, lost work on the platform, outbox and invoice equal to the ledger', async () => {
  const started = Date.now();
  const ids = new Map<string, string>();
  const submitted = submitAll(ids);
  // Kills begin once the first jobs are in; chaos stops after 100 s at the latest, the tail then runs in peace.
  const kills = await chaos(ids, submitted, started + 100_000);
  await submitted;
  const list = [...ids.keys()];
  expect(list).toHaveLength(JOBS);
  for (const id of list) await waitForJob(api, id, 120_000);
  // At rest: no attempt still running (a re-run of a finished job ends too), no report left to record.
  await waitFor(
    async () => {
      const all = await Promise.all(list.map(async (id) => (await api.get(`/v1/jobs/${id}/attempts`)).body.results as Attempt[]));
      return all.flat().every((a) => a.status !== 'running') && (await queuesAtRest());
    },
    60_000,
    () => 'attempts still running or reports still queued',
  );
  const first = await snapshot(list);
  await sleep(5000); // longer than a lock: a job some dead worker still held would have come back by now
  const s = await snapshot(list);

  // Every job ended exactly once, and stays ended.
  for (const [i, job] of s.jobs.entries()) {
    expect(TERMINAL, `${job.id} ${job.status}`).toContain(job.status);
    expect(job.completed_at, job.id).not.toBeNull();
    const before = first.jobs[i];
    expect([job.status, job.completed_at, job.outputs.length], job.id).toEqual([before.status, before.completed_at, before.outputs.length]);
    // The farm's only failures here are the workers it lost.
    if (job.status === 'failed') expect(job.error?.code, `${job.id}: ${JSON.stringify(job.error)}`).toBe('worker_lost');
  }
  expect(s.attempts).toEqual(first.attempts);
  expect(s.rows).toEqual(first.rows);

  const rowsOf = (job: string) => s.rows.filter((r) => r.job === job);
  let lost = 0;
  let lostWithUsage = 0;
  for (const job of s.jobs) {
    const attempts = s.attempts.get(job.id)!;
    for (const a of attempts) {
      expect(a.billed_to, `${job.id} attempt ${a.attempt} (${a.status}) has no payer`).not.toBeNull();
      if (a.usage) expect(a.usage.billable, `${job.id} attempt ${a.attempt}`).toBe(a.billed_to === 'tenant');
      // A lost attempt is the platform's cost, in the attempts view and in the ledger.
      if (a.status === 'lost') {
        lost++;
        expect(a.billed_to, `${job.id} attempt ${a.attempt}: ${a.billing_reason}`).toBe('platform');
        const rows = rowsOf(job.id).filter((r) => r.attempt === a.attempt);
        if (rows.length) lostWithUsage++;
        expect(rows.filter((r) => r.billed_to !== 'platform'), `${job.id} attempt ${a.attempt}`).toEqual([]);
      }
    }
    const tenantRows = rowsOf(job.id).filter((r) => r.billed_to === 'tenant');
    if (job.status === 'succeeded') {
      const billed = attempts.filter((a) => a.status === 'succeeded' && a.billed_to === 'tenant');
      expect(billed.map((a) => a.attempt), `${job.id}: ${JSON.stringify(attempts)}`).toHaveLength(1);
      expect(job.usage.attempts_billed, job.id).toBe(1);
      // The tenant's ledger holds that attempt and no other.
      expect(tenantRows.length, job.id).toBeGreaterThan(0);
      expect([...new Set(tenantRows.map((r) => r.attempt))], `${job.id}: ${JSON.stringify(tenantRows)}`).toEqual([billed[0]!.attempt]);
    } else {
      expect(tenantRows, `${job.id} (${job.status}) billed to the tenant`).toEqual([]);
    }
  }
  const platformRows = s.rows.filter((r) => r.billed_to === 'platform');
  const summary = {
    seed: SEED,
    kills: kills.length,
    lost,
    lostWithUsage,
    succeeded: s.jobs.filter((j) => j.status === 'succeeded').length,
    failed: s.jobs.filter((j) => j.status === 'failed').length,
    retried: s.jobs.filter((j) => j.attempts > 1).length,
    platformRows: platformRows.length,
    seconds: Math.round((Date.now() - started) / 1000),
  };
  console.log(`billing chaos: ${JSON.stringify(summary)}`);
  for (const k of kills) console.log(`  kill ${k.at} pid ${k.pid}: ${k.jobs.map((id) => `${id} (${ids.get(id)}) → ${s.jobs.find((j) => j.id === id)?.status}, attempts ${s.attempts.get(id)?.map((a) => `${a.attempt}:${a.status}/${a.billed_to}`).join(' ')}`).join('; ')}`);
  expect(kills.length).toBeGreaterThanOrEqual(3);
  expect(lost).toBeGreaterThan(0);
  expect(platformRows.length).toBeGreaterThan(0);
  expect(summary.succeeded).toBeGreaterThanOrEqual(JOBS / 2);

  // The outbox: one CloudEvent per charge, none lost or doubled.
  const period = s.endDay.slice(0, 7);
  const invoice = (await api.get(`/v1/invoices/${period}`)).body;
  const tenantId = invoice.tenant.id as string;
  const events = await outbox();
  expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
  const mine = events.filter((e) => e.subject === tenantId);
  expect(mine.length).toBe(s.rows.reduce((n, r) => n + r.charges, 0));
  const key = (job: unknown, attempt: unknown, billedTo: unknown, meter: string) => `${String(job)}|${String(attempt)}|${String(billedTo)}|${meter}`;
  const fromEvents = new Map<string, { n: number; value: number }>();
  for (const e of mine) {
    const k = key(e.data.job_id ?? null, e.data.attempt ?? null, e.data.billed_to, e.type.replace(/^malan\./, ''));
    const g = fromEvents.get(k) ?? { n: 0, value: 0 };
    fromEvents.set(k, { n: g.n + 1, value: g.value + Number(e.data.value) });
  }
  expect(fromEvents.size).toBe(s.rows.length);
  for (const r of s.rows) {
    const g = fromEvents.get(key(r.job, r.attempt, r.billed_to, r.meter));
    expect(g?.n, `events of ${JSON.stringify(r)}`).toBe(r.charges);
    // The usage report rounds each sum to the millionth: the events' sum is within half of one.
    expect(Math.abs(g!.value - r.quantity), `${g!.value} vs ${r.quantity}`).toBeLessThanOrEqual(5e-7 + 1e-12);
  }

  // The invoice: its lines, its ledger and /v1/usage agree to the micro.
  const tenantUsage = (await api.get(`/v1/usage?group_by=job,attempt&from=${period}-01&to=${s.endDay}`)).body;
  expect(invoice.subtotal_micros).toBe(invoice.ledger.amount_micros);
  expect(invoice.subtotal_micros).toBe(tenantUsage.total_micros);
  expect(invoice.ledger.charges).toBe(tenantUsage.results.reduce((n: number, r: UsageRow) => n + r.charges, 0));
  if (period === startDay.slice(0, 7)) {
    expect(invoice.subtotal_micros).toBe(s.rows.filter((r) => r.billed_to === 'tenant').reduce((n, r) => n + r.amount_micros, 0));
  }
  expect(invoice.subtotal_micros).toBeGreaterThan(0);
}, 300_000);
