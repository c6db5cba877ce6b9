/**
 * Prometheus text for `/metrics`. GPU gauges use the DCGM exporter's names and labels, so the
 * Grafana dashboards made for it (e.g. 12239) read the farm's GPUs as they are; the readings come
 * from the workers' heartbeats. Queue depths come from BullMQ; fallbacks to slower paths from the
 * jobs' own execution records.
 */
import { sql } from 'drizzle-orm';
import type { GpuReading } from '../capabilities/worker-capabilities.js';
import { channels } from '../queue/messages.js';
import { jobs as jobs_ } from '../db/schema.js';
import type { FarmContext } from './farm-context.js';
import { liveMetricFamilies } from './live-prom.js';

/** Bucket bounds (s) of the job wait and run histograms: a second-scale dispatch up to hour-long renders. */
const JOB_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14_400];

const DCGM: Array<[string, string, (g: GpuReading) => number | null]> = [
  ['DCGM_FI_DEV_GPU_UTIL', 'GPU utilization (in %).', (g) => g.utilizationGpuPercent],
  ['DCGM_FI_DEV_ENC_UTIL', 'Encoder utilization (in %).', (g) => g.utilizationEncoderPercent],
  ['DCGM_FI_DEV_DEC_UTIL', 'Decoder utilization (in %).', (g) => g.utilizationDecoderPercent],
  ['DCGM_FI_DEV_FB_USED', 'Framebuffer memory used (in MiB).', (g) => g.memoryUsedMiB],
  ['DCGM_FI_DEV_FB_FREE', 'Framebuffer memory free (in MiB).', (g) => g.memoryTotalMiB - g.memoryUsedMiB],
  ['DCGM_FI_DEV_POWER_USAGE', 'Power draw (in W).', (g) => g.powerDrawW],
  ['DCGM_FI_DEV_GPU_TEMP', 'GPU temperature (in C).', (g) => g.temperatureC],
];

/**
 * Why a path failed, as a small closed set: the recorded text names files, GPUs and addresses, so
 * as a label it would make a series per job. The first match wins (an NVENC session refused with
 * "out of memory" is the consumer cards' session limit, not memory). Patterns are PostgreSQL
 * regular expressions, matched case-insensitively.
 */
const FALLBACK_REASONS: ReadonlyArray<readonly [reason: string, pattern: string]> = [
  ['encoder_sessions', 'OpenEncodeSessionEx failed: (out of memory|incompatible client key)'],
  ['gpu_unavailable', 'cannot load|not found|no such file|no cuda-capable device|no capable devices|driver does not support|driver version is insufficient|unsupported device|device creation failed'],
  ['out_of_memory', 'out of memory|out_of_memory|bad_alloc|failed to allocate|cannot allocate'],
  ['unsupported', 'not supported|unsupported|impossible to convert|exceeds|no decoder surfaces'],
];

// A transcode step down keeps ffmpeg's words in `error` (its `reason` is why the path was planned);
// an ONNX provider's keeps them in `reason`.
const failureText = sql`coalesce(f->>'error', f->>'reason', '')`;
const fallbackReasonSql = sql`case ${sql.join(
  FALLBACK_REASONS.map(([reason, pattern]) => sql`when ${failureText} ~* ${pattern} then ${reason}::text`),
  sql` `,
)} else 'other' end`;

interface Heartbeat {
  workerId: string;
  hostname: string;
  kinds: string[];
  jobs: string[];
  gpus: GpuReading[];
}

export async function renderMetrics(ctx: FarmContext): Promise<string> {
  const out: string[] = [];
  const family = (name: string, help: string, type: 'gauge' | 'counter' | 'summary', samples: Array<[Record<string, string>, number]>) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    // A summary's _sum and _count come as samples labelled __suffix.
    for (const [{ __suffix: suffix = '', ...labels }, value] of samples) out.push(`${name}${suffix}${labelText(labels)} ${value}`);
  };

  const beats = await heartbeats(ctx);
  for (const [name, help, read] of DCGM) {
    const samples: Array<[Record<string, string>, number]> = [];
    for (const b of beats) for (const g of b.gpus) {
      const v = read(g);
      if (v !== null && Number.isFinite(v)) samples.push([{ gpu: String(g.index), UUID: g.uuid, modelName: g.name, Hostname: b.hostname }, v]);
    }
    family(name, help, 'gauge', samples);
  }
  family('malan_workers_up', 'Workers with a live heartbeat, by host.', 'gauge', sumBy(beats, (b) => b.hostname, () => 1).map(([hostname, n]) => [{ Hostname: hostname }, n]));
  family('malan_worker_running_jobs', 'Jobs a worker is running now.', 'gauge', beats.map((b) => [{ worker: b.workerId, Hostname: b.hostname }, b.jobs.length]));

  const depth: Array<[Record<string, string>, number]> = [];
  for (const q of ctx.queues.all()) {
    const counts = await q.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'waiting-children', 'failed', 'completed');
    for (const [state, n] of Object.entries(counts)) depth.push([{ queue: q.name, state }, n]);
  }
  family('malan_queue_jobs', 'Jobs in each BullMQ queue, by state.', 'gauge', depth);

  const statuses = await ctx.db.execute(sql`select kind, status, count(*)::int as n from jobs group by kind, status`);
  family('malan_jobs', 'Jobs in the database, by kind and status.', 'gauge', rows<{ kind: string; status: string; n: number }>(statuses).map((r) => [{ kind: r.kind, status: r.status }, Number(r.n)]));

  // Every step down from a faster path, as recorded on the jobs: never silent, and counted by why.
  const fallbacks = await ctx.db.execute(
    sql`select f->>'path' as path, ${fallbackReasonSql} as reason, count(*)::int as n from jobs, jsonb_array_elements(coalesce(execution->'fallbacks', '[]'::jsonb)) f group by 1, 2`,
  );
  family(
    'malan_fallbacks_total',
    `Attempts on a path that failed and stepped down to the next, by the path that failed and why (${[...FALLBACK_REASONS.map(([r]) => r), 'other'].join(', ')}).`,
    'counter',
    rows<{ path: string; reason: string; n: number }>(fallbacks).map((r) => [{ path: r.path, reason: r.reason }, Number(r.n)]),
  );
  // How long jobs waited for a worker and then ran, by kind (jobs that ended, as histograms).
  for (const [name, help, from, to] of [
    ['malan_job_wait_seconds', 'Time from submission to the first attempt starting, of jobs that ended.', jobs_.createdAt, jobs_.startedAt],
    ['malan_job_run_seconds', 'Time from the first attempt starting to the end, of jobs that ended.', jobs_.startedAt, jobs_.completedAt],
  ] as const) {
    const seconds = sql`extract(epoch from ${to} - ${from})`;
    const cols = JOB_BUCKETS.map((b, i) => sql`count(*) filter (where ${seconds} <= ${b}) as ${sql.raw(`b${i}`)}`);
    const result = await ctx.db.execute(
      sql`select kind, count(*)::int as n, coalesce(sum(${seconds}), 0)::float8 as total, ${sql.join(cols, sql`, `)} from jobs where completed_at is not null and started_at is not null group by kind`,
    );
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
    for (const r of rows<Record<string, unknown>>(result)) {
      const kind = labelText({ kind: String(r.kind) }).slice(1, -1);
      JOB_BUCKETS.forEach((b, i) => out.push(`${name}_bucket{${kind},le="${b}"} ${Number(r[`b${i}`])}`));
      out.push(`${name}_bucket{${kind},le="+Inf"} ${Number(r.n)}`, `${name}_sum{${kind}} ${Math.round(Number(r.total) * 1000) / 1000}`, `${name}_count{${kind}} ${Number(r.n)}`);
    }
  }

  // The ledger, for rate() over time: billed quantities by meter and payer, amounts in the currency.
  const billed = await ctx.db.execute(
    sql`select meter, billed_to, coalesce(gpu_model, '') as gpu_model, sum(billed_quantity)::float8 as q, sum(amount_micros)::float8 as micros from charges group by 1, 2, 3`,
  );
  const ledger = rows<{ meter: string; billed_to: string; gpu_model: string; q: number; micros: number }>(billed);
  family('malan_billed_quantity_total', 'Usage rated into the ledger, in each meter\'s unit, by who pays.', 'counter', ledger.map((r) => [{ meter: r.meter, billed_to: r.billed_to, gpu_model: r.gpu_model }, Number(r.q)]));
  family('malan_billed_amount_total', `Charges in the ledger, in ${ctx.config.MALAN_CURRENCY}, by who pays (platform: the farm's own cost).`, 'counter', sumBy(ledger, (r) => r.billed_to, (r) => Number(r.micros) / 1e6).map(([billedTo, v]) => [{ billed_to: billedTo, currency: ctx.config.MALAN_CURRENCY }, v]));
  await liveMetricFamilies(ctx, family);
  return `${out.join('\n')}\n`;
}

function sumBy<T>(items: T[], key: (t: T) => string, value: (t: T) => number): Array<[string, number]> {
  const m = new Map<string, number>();
  for (const i of items) m.set(key(i), (m.get(key(i)) ?? 0) + value(i));
  return [...m.entries()];
}

async function heartbeats(ctx: FarmContext): Promise<Heartbeat[]> {
  const pattern = channels.workerHeartbeat(ctx.config.MALAN_QUEUE_PREFIX, '*');
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await ctx.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  if (!keys.length) return [];
  return (await ctx.redis.mget(...keys)).flatMap((v) => (v ? [JSON.parse(v) as Heartbeat] : []));
}

/** drizzle's execute returns rows directly on PGlite and postgres-js alike, or `{rows}` on some drivers. */
function rows<T>(result: unknown): T[] {
  return Array.isArray(result) ? (result as T[]) : ((result as { rows?: T[] }).rows ?? []);
}

function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}
