/**
 * Predictions, the shape Replicate's API and clients use, over jobs of kind `inference`: a
 * prediction is a job (same id, listed in /v1/jobs too). This module maps the request onto a job
 * and the job back onto a prediction: statuses, output with signed file URLs, logs as text,
 * `metrics.predict_time`, and `Prefer: wait` held open until the job ends.
 */
import { and, desc, eq, lt } from 'drizzle-orm';
import { z } from 'zod';
import { ApiError, notFound } from '../api/api-error.js';
import { jobs, TERMINAL_STATUSES, type JobRow } from '../db/schema.js';
import { idPattern } from '../ids.js';
import type { InferenceInput } from '../jobs/inference/spec.js';
import { MODEL_NAME_PATTERN, VERSION_ID_PATTERN } from '../jobs/inference/spec.js';
import type { FarmContext } from './farm-context.js';
import { formatIssues } from './format-issues.js';
import type { JobEventHub } from './job-events.js';
import { formatLogLine, readLogs } from './job-logs.js';
import { cancelJob, getJobRow, submitJob, usageOf } from './jobs.js';
import type { Principal } from './keys.js';
import { findModel, findVersion, manifestOf } from './models.js';
import { resolvePredictionInput } from './prediction-inputs.js';

const createSchema = z.object({
  version: z.string().optional(),
  input: z.record(z.string(), z.unknown(), { error: 'input: must be an object of the model\'s inputs' }),
  webhook: z.string().optional(),
  webhook_events_filter: z.array(z.enum(['start', 'output', 'logs', 'completed'])).optional(),
  /** Older clients ask for a stream URL this way; `urls.stream` is always there. */
  stream: z.boolean().optional(),
});

/** `version` as Replicate accepts it: the id alone, or "owner/name:id". */
async function versionFor(ctx: FarmContext, model: string | null, version: string | undefined) {
  if (version !== undefined) {
    const id = version.includes(':') ? version.slice(version.lastIndexOf(':') + 1) : version;
    if (!VERSION_ID_PATTERN.test(id)) throw new ApiError('invalid_request', 'version: a 64-character version id (or "owner/name:id")');
    const row = await findVersion(ctx.db, id);
    if (!row) throw new ApiError('not_found', `version ${id} was not found; GET /v1/models lists the models and their latest versions`);
    return row;
  }
  if (!model) throw new ApiError('invalid_request', 'version: required (or POST to /v1/models/{owner}/{name}/predictions to run the latest version)');
  if (!MODEL_NAME_PATTERN.test(model)) throw new ApiError('not_found', `model ${model} was not found`);
  const [owner, name] = model.split('/') as [string, string];
  const row = await findModel(ctx.db, owner, name);
  if (!row?.latestVersionId) throw new ApiError('not_found', `model ${model} was not found; GET /v1/models lists the models this farm serves`);
  return (await findVersion(ctx.db, row.latestVersionId))!;
}

export async function createPrediction(ctx: FarmContext, who: Principal, model: string | null, body: unknown, idempotencyKey: string | undefined) {
  const parsed = createSchema.safeParse(body);
  if (!parsed.success) throw new ApiError('invalid_request', formatIssues(parsed.error));
  const req = parsed.data;
  const version = await versionFor(ctx, model, req.version);
  const manifest = manifestOf(version);
  const resolved = await resolvePredictionInput(ctx, who, manifest, req.input);
  const input: InferenceInput = { model: manifest.name, version: version.id, ...resolved };
  return submitJob(ctx, who, { kind: 'inference', input, webhook: req.webhook, webhook_events_filter: req.webhook_events_filter }, idempotencyKey);
}

// Predictions are never paused (only render jobs are); were one, it has not started in Replicate's words.
const STATUS: Record<JobRow['status'], string> = { queued: 'starting', running: 'processing', paused: 'starting', succeeded: 'succeeded', failed: 'failed', canceled: 'canceled' };

/** The prediction object of Replicate's API for an inference job. */
export async function predictionView(ctx: FarmContext, row: JobRow) {
  const input = row.input as InferenceInput;
  const self = `${ctx.baseUrl}/v1/predictions/${row.id}`;
  const logs = (await readLogs(ctx, row.id)).map(formatLogLine).join('');
  const usage = (await usageOf(ctx, [row.id])).get(row.id);
  const seconds = (a: Date | null, b: Date | null) => (a && b ? Math.round((b.getTime() - a.getTime()) / 1000 * 1000) / 1000 : undefined);
  const predictTime = (row.execution as { predict_seconds?: number } | null)?.predict_seconds;
  return {
    id: row.id,
    model: input.model,
    version: input.version ?? null,
    input: echoInput(ctx, input),
    output: row.status === 'succeeded' ? withFileUrls(ctx, row.result ?? null) : null,
    logs,
    error: row.error ? row.error.message : null,
    status: STATUS[row.status],
    source: 'api',
    data_removed: false,
    created_at: row.createdAt.toISOString(),
    started_at: row.startedAt?.toISOString() ?? null,
    completed_at: row.completedAt?.toISOString() ?? null,
    metrics: row.status === 'succeeded' ? { predict_time: predictTime ?? usage?.wall_seconds ?? null, total_time: seconds(row.createdAt, row.completedAt) } : {},
    urls: { get: self, cancel: `${self}/cancel`, stream: `${ctx.baseUrl}/v1/jobs/${row.id}/events`, web: `${ctx.baseUrl}/v1/jobs/${row.id}` },
    // Beyond Replicate's shape: how the farm ran it and what it cost.
    usage: usage ?? null,
    execution: row.execution ?? null,
  };
}

/** The input as the creator gave it: files as their URLs again. */
function echoInput(ctx: FarmContext, input: InferenceInput) {
  return Object.fromEntries(
    Object.entries(input.inputs).map(([k, v]) => [k, typeof v === 'object' ? ('file' in v ? `${ctx.baseUrl}/v1/files/${v.file}/content` : v.url) : v]),
  );
}

/** Output files are `{"$file": id}` in the job's result; creators get signed URLs that work without a key. */
export function withFileUrls(ctx: FarmContext, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => withFileUrls(ctx, v));
  if (value && typeof value === 'object') {
    const file = (value as { $file?: unknown }).$file;
    if (typeof file === 'string') return ctx.signer.sign('GET', `/v1/files/${file}/content`, 7 * 24 * 3600);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withFileUrls(ctx, v)]));
  }
  return value;
}

export async function getPredictionRow(ctx: FarmContext, who: Principal, id: string): Promise<JobRow> {
  const row = await getJobRow(ctx, who, id).catch(() => null);
  if (!row || row.kind !== 'inference') throw notFound('prediction', id);
  return row;
}

/** `Prefer: wait` / `wait=n`: hold the answer until the prediction ends or n seconds pass (at most 60). */
export function preferredWait(header: string | undefined): number | null {
  const m = /(?:^|[,;\s])wait(?:=(\d+))?(?:$|[,;\s])/i.exec(header ?? '');
  if (!m) return null;
  return Math.min(60, Math.max(1, m[1] ? Number(m[1]) : 60));
}

export async function waitForEnd(ctx: FarmContext, hub: JobEventHub, who: Principal, id: string, seconds: number): Promise<JobRow> {
  let wake: () => void = () => {};
  const stop = await hub.follow(id, (e) => {
    if (e.type === 'status') wake();
  });
  try {
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
      const row = await getJobRow(ctx, who, id);
      const left = deadline - Date.now();
      if ((TERMINAL_STATUSES as readonly string[]).includes(row.status) || left <= 0) return row;
      // Woken by the job's status events; the timer also re-reads in case one was missed.
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 1000));
        wake = () => (clearTimeout(t), r());
      });
    }
  } finally {
    await stop();
  }
}

const listSchema = z.strictObject({ cursor: z.string().regex(idPattern('job'), { error: 'cursor must come from a previous page\'s next URL' }).optional() });

export async function listPredictions(ctx: FarmContext, who: Principal, query: Record<string, string>) {
  const q = listSchema.safeParse(query);
  if (!q.success) throw new ApiError('invalid_request', formatIssues(q.error));
  const limit = 50;
  const where = [eq(jobs.kind, 'inference'), ...(who.operator ? [] : [eq(jobs.tenantId, who.tenantId)]), ...(q.data.cursor ? [lt(jobs.id, q.data.cursor)] : [])];
  const rows = await ctx.db.select().from(jobs).where(and(...where)).orderBy(desc(jobs.id)).limit(limit + 1);
  const page = rows.slice(0, limit);
  return {
    previous: null,
    next: rows.length > limit ? `${ctx.baseUrl}/v1/predictions?cursor=${page[page.length - 1]!.id}` : null,
    results: await Promise.all(page.map((r) => predictionView(ctx, r))),
  };
}

export async function cancelPrediction(ctx: FarmContext, who: Principal, id: string) {
  await getPredictionRow(ctx, who, id);
  await cancelJob(ctx, who, id);
  return predictionView(ctx, await getJobRow(ctx, who, id));
}
