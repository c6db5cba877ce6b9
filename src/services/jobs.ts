/**
 * Submitting, reading, listing and canceling jobs. Acceptance is durable: the job is written to
 * the database first, then put on its queue; if the queue write is lost, the reconciler puts it
 * there again (the BullMQ job id is the job id, so a second add is a no-op).
 */
import { createHash } from 'node:crypto';
import { and, desc, eq, ilike, inArray, like, lt, or, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { ApiError, notFound } from '../api/api-error.js';
import { files, jobs, TERMINAL_STATUSES, usageEvents, type JobRow, type JobStatus, JOB_STATUSES } from '../db/schema.js';
import { idPattern, newId } from '../ids.js';
import { isJobKind, JOB_KINDS, kindDefinition, KINDS_ELSEWHERE, type JobKind } from '../jobs/registry.js';
import { jobFields } from '../logger.js';
import { channels, type JobPayload } from '../queue/messages.js';
import { kindJobOptions } from '../queue/farm-queues.js';
import type { FarmContext } from './farm-context.js';
import { findFile } from './files.js';
import type { Principal } from './keys.js';
import { jobView, type UsageSummary } from './job-view.js';
import { formatIssues } from './format-issues.js';
import { checkInferenceInput, modelPayload } from './inference-jobs.js';
import { withFileUrls } from './predictions.js';
import type { InferenceInput } from '../jobs/inference/spec.js';
import { validateWebhookUrl } from './webhook-url.js';
import { publishJobEvent } from './job-events.js';
import { enqueueWebhook } from './webhooks.js';
import { playbackToken } from '../api/routes/playback.js';
import { enforceQuotas, hasQuotas } from '../billing/quotas.js';
import type { RenderInput } from '../jobs/render/spec.js';
import { checkRenderInput, enqueueRender, renderSummary, stopRenderTasks } from './render-jobs.js';
import type { DbOrTx } from '../db/database.js';

const WEBHOOK_EVENTS = ['start', 'output', 'logs', 'completed'] as const;

const submitSchema = z.strictObject({
  kind: z.string({ error: 'kind is required: one of ' + JOB_KINDS.join(', ') }),
  input: z.unknown().optional(),
  priority: z.number().int().min(0).max(100).default(50),
  name: z.string().trim().min(1, { error: 'name must not be empty (leave it out instead)' }).max(200, { error: 'name is at most 200 characters' }).optional(),
  webhook: z.string().optional(),
  webhook_events_filter: z.array(z.enum(WEBHOOK_EVENTS)).optional(),
});


export async function submitJob(ctx: FarmContext, who: Principal, body: unknown, idempotencyKey: string | undefined) {
  const parsed = submitSchema.safeParse(body);
  if (!parsed.success) throw new ApiError('invalid_request', formatIssues(parsed.error));
  const req = parsed.data;
  if (!isJobKind(req.kind)) {
    const later = KINDS_ELSEWHERE[req.kind] ? ` (${KINDS_ELSEWHERE[req.kind]})` : '';
    throw new ApiError('invalid_request', `kind: unknown kind '${req.kind}'${later}; this farm runs: ${JOB_KINDS.join(', ')}`);
  }
  const def = kindDefinition(req.kind);
  if (req.input === undefined) throw new ApiError('invalid_request', 'input: required (the job\'s parameters, see the kind\'s schema)');
  const input = def.inputSchema.safeParse(req.input);
  if (!input.success) throw new ApiError('invalid_request', formatIssues(input.error, 'input'));
  if (req.webhook !== undefined) validateWebhookUrl(req.webhook, ctx.config.MALAN_ALLOW_PRIVATE_WEBHOOKS);
  if (idempotencyKey !== undefined && !/^[\x21-\x7e]{1,255}$/.test(idempotencyKey)) {
    throw new ApiError('invalid_request', 'Idempotency-Key must be 1–255 visible ASCII characters');
  }
  if (req.kind === 'inference') input.data = await checkInferenceInput(ctx, input.data as InferenceInput);
  // A render job keeps the template it was submitted with, whatever the operator changes later.
  const execution = req.kind === 'render' ? await checkRenderInput(ctx, input.data as RenderInput) : null;
  for (const fileId of def.fileIds(input.data)) {
    if (!(await findFile(ctx.db, { tenantId: who.tenantId, operator: false }, fileId))) {
      throw new ApiError('invalid_request', `input: file ${fileId} was not found (upload it with POST /v1/files first)`);
    }
  }
  const requestHash = createHash('sha256').update(JSON.stringify(body)).digest('hex');
  const id = newId('job');
  const row: typeof jobs.$inferInsert = {
    id,
    tenantId: who.tenantId,
    kind: req.kind,
    status: 'queued',
    priority: req.priority,
    name: req.name ?? null,
    input: input.data,
    webhook: req.webhook ?? null,
    webhookEventsFilter: req.webhook_events_filter ?? null,
    idempotencyKey: idempotencyKey ?? null,
    requestHash,
    execution,
  };
  const insert = (db: DbOrTx) => db.insert(jobs).values(row).onConflictDoNothing().returning();
  let inserted: JobRow[];
  if (await hasQuotas(ctx.db, who.tenantId)) {
    // A replay returns the job it made, whatever the limits say now.
    const earlier = idempotencyKey === undefined ? undefined : await jobByKey(ctx, who.tenantId, idempotencyKey);
    if (earlier) return replay(ctx, earlier, requestHash);
    inserted = await ctx.db.transaction(async (tx) => {
      await enforceQuotas(tx, ctx.config, who.tenantId);
      return insert(tx);
    });
  } else inserted = await insert(ctx.db);
  if (inserted.length === 0) {
    const existing = await jobByKey(ctx, who.tenantId, idempotencyKey!);
    if (!existing) throw new ApiError('conflict', 'the job for this Idempotency-Key is being created; retry');
    return replay(ctx, existing, requestHash);
  }
  const job = inserted[0]!;
  try {
    await enqueueJob(ctx, job);
  } catch (err) {
    // Accepted all the same: the job is in the database, and the reconciler will queue it.
    ctx.log.with(jobFields(job.id, job.tenantId)).warn('queue write failed; the reconciler will enqueue the job', { error: (err as Error).message });
  }
  return { job: jobView(job, null, ctx.baseUrl), replayed: false };
}

async function jobByKey(ctx: FarmContext, tenantId: string, key: string): Promise<JobRow | undefined> {
  const [row] = await ctx.db.select().from(jobs).where(and(eq(jobs.tenantId, tenantId), eq(jobs.idempotencyKey, key)));
  return row;
}

async function replay(ctx: FarmContext, existing: JobRow, requestHash: string) {
  if (existing.requestHash !== requestHash) {
    throw new ApiError('unprocessable', 'this Idempotency-Key was used for a different request; use a new key for a new job');
  }
  return { job: await jobWithUsage(ctx, existing), replayed: true };
}

/** Puts a job's work on its kind's queue with freshly signed URLs. Idempotent per job id. */
export async function enqueueJob(ctx: FarmContext, job: JobRow): Promise<void> {
  const kind = job.kind as JobKind;
  if (kind === 'render') return enqueueRender(ctx, job);
  const def = kindDefinition(kind);
  const input = def.inputSchema.parse(job.input);
  const ttl = 7 * 24 * 3600; // covers a long wait in the queue; the reconciler re-signs on re-enqueue
  const ids = def.fileIds(input);
  const fileUrls = Object.fromEntries(ids.map((f) => [f, ctx.signer.sign('GET', `/v1/files/${f}/content`, ttl)]));
  const rows = ids.length ? await ctx.db.select().from(files).where(inArray(files.id, ids)) : [];
  const localFiles = Object.fromEntries(
    rows.flatMap((r) => {
      const local = ctx.storage.localPath(r.storageKey);
      return local ? [[r.id, { path: local, size: r.size }]] : [];
    }),
  );
  const payload: JobPayload = {
    jobId: job.id,
    tenantId: job.tenantId,
    kind,
    input: job.input,
    fileUrls,
    localFiles,
    uploadUrl: ctx.signer.sign('PUT', `/internal/jobs/${job.id}/outputs`, ttl),
    timeoutSeconds: (input as { timeout_seconds?: number }).timeout_seconds ?? ctx.config.MALAN_JOB_TIMEOUT_SECONDS,
    ...(kind === 'inference' && { model: await modelPayload(ctx, (input as InferenceInput).version!, ttl) }),
  };
  await ctx.queues.byKind[kind].add(kind, payload, kindJobOptions(job.id, def.attempts, job.priority));
}

export async function getJobRow(ctx: FarmContext, who: Principal, id: string): Promise<JobRow> {
  if (!idPattern('job').test(id)) throw notFound('job', id);
  const scope = who.operator ? eq(jobs.id, id) : and(eq(jobs.id, id), eq(jobs.tenantId, who.tenantId));
  const [row] = await ctx.db.select().from(jobs).where(scope);
  if (!row) throw notFound('job', id);
  return row;
}

export async function usageOf(ctx: FarmContext, jobIds: string[]): Promise<Map<string, UsageSummary>> {
  if (jobIds.length === 0) return new Map();
  const rows = await ctx.db
    .select({
      jobId: usageEvents.jobId,
      wall: sql<number>`sum(${usageEvents.wallSeconds})`,
      cpu: sql<number>`sum(${usageEvents.cpuSeconds})`,
      gpu: sql<number>`sum(${usageEvents.gpuSeconds})`,
      out: sql<number>`sum(${usageEvents.outputSeconds})`,
      model: sql<string>`max(${usageEvents.gpuModel})`,
      n: sql<number>`count(distinct ${usageEvents.attempt})`,
    })
    .from(usageEvents)
    .where(and(inArray(usageEvents.jobId, jobIds), eq(usageEvents.billable, true)))
    .groupBy(usageEvents.jobId);
  const round = (n: unknown) => Math.round(Number(n) * 1000) / 1000;
  return new Map(
    rows.map((r) => [
      r.jobId,
      { wall_seconds: round(r.wall), cpu_seconds: round(r.cpu), gpu_seconds: round(r.gpu), gpu_model: r.model, output_seconds: round(r.out), attempts_billed: Number(r.n) },
    ]),
  );
}

export async function jobWithUsage(ctx: FarmContext, row: JobRow) {
  const token = row.status === 'succeeded' ? playbackToken(ctx, row.id) : undefined;
  const view = jobView(row, (await usageOf(ctx, [row.id])).get(row.id) ?? null, ctx.baseUrl, token);
  if (row.kind === 'render') return { ...view, render: await renderSummary(ctx, row) };
  // An inference job's answer (a prediction's `output`), with its files as signed URLs.
  return row.kind === 'inference' ? { ...view, output: row.status === 'succeeded' ? withFileUrls(ctx, row.result ?? null) : null } : view;
}

const listSchema = z.strictObject({
  kind: z.enum(JOB_KINDS).optional(),
  status: z.enum(JOB_STATUSES).optional(),
  /** Search: a job id (or its start) or words in the job's name, case-insensitive. */
  q: z.string().trim().min(1, { error: 'q must not be empty' }).max(200, { error: 'q is at most 200 characters' }).optional(),
  cursor: z.string().regex(idPattern('job'), { error: 'cursor must be a next cursor from a previous page' }).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

export async function listJobs(ctx: FarmContext, who: Principal, query: Record<string, string>) {
  const q = listSchema.safeParse(query);
  if (!q.success) throw new ApiError('invalid_request', formatIssues(q.error));
  const where: SQL[] = [];
  if (!who.operator) where.push(eq(jobs.tenantId, who.tenantId));
  if (q.data.kind) where.push(eq(jobs.kind, q.data.kind));
  if (q.data.status) where.push(eq(jobs.status, q.data.status));
  if (q.data.q) {
    // The text is matched literally: LIKE's own wildcards in it are escaped.
    const literal = q.data.q.replace(/[\\%_]/g, (m) => `\\${m}`);
    where.push(or(like(jobs.id, `${literal}%`), ilike(jobs.name, `%${literal}%`))!);
  }
  if (q.data.cursor) where.push(lt(jobs.id, q.data.cursor));
  const rows = await ctx.db.select().from(jobs).where(and(...where)).orderBy(desc(jobs.id)).limit(q.data.limit + 1);
  const page = rows.slice(0, q.data.limit);
  const usage = await usageOf(ctx, page.map((r) => r.id));
  const next = rows.length > q.data.limit ? page[page.length - 1]!.id : null;
  const params = new URLSearchParams({ ...(q.data.kind && { kind: q.data.kind }), ...(q.data.status && { status: q.data.status }), ...(q.data.q && { q: q.data.q }) });
  return {
    results: page.map((r) => jobView(r, usage.get(r.id) ?? null, ctx.baseUrl)),
    next: next ? `${ctx.baseUrl}/v1/jobs?${new URLSearchParams({ ...Object.fromEntries(params), cursor: next, limit: String(q.data.limit) })}` : null,
    next_cursor: next,
  };
}

/** Ends a job as canceled and tells the worker running it to stop (it kills its processes). */
export async function cancelJob(ctx: FarmContext, who: Principal, id: string) {
  const row = await getJobRow(ctx, who, id);
  if ((TERMINAL_STATUSES as readonly JobStatus[]).includes(row.status)) return jobWithUsage(ctx, row);
  const [updated] = await ctx.db
    .update(jobs)
    .set({ status: 'canceled', completedAt: new Date(), error: { code: 'canceled', message: `canceled by ${who.tenantName}` } })
    .where(and(eq(jobs.id, id), inArray(jobs.status, ['queued', 'running', 'paused'])))
    .returning();
  if (!updated) return jobWithUsage(ctx, await getJobRow(ctx, who, id)); // it ended meanwhile
  const prefix = ctx.config.MALAN_QUEUE_PREFIX;
  await ctx.redis.set(channels.canceledKey(prefix, id), '1', 'EX', 7 * 24 * 3600);
  await ctx.redis.publish(channels.cancel(prefix), id);
  // A waiting job is removed; an active one is locked by its worker, which stops on the message above.
  if (row.kind === 'render') await stopRenderTasks(ctx, id, 'canceled');
  else await (await ctx.queues.byKind[row.kind as JobKind]?.getJob(id))?.remove().catch(() => undefined);
  await publishJobEvent(ctx, id, 'status', { status: 'canceled' });
  await enqueueWebhook(ctx, updated, 'completed');
  return jobWithUsage(ctx, updated);
}

/**
 * Runs a failed or canceled job again as a new job with the same input: the old one keeps its
 * history and its bill, and the new one is billed and tracked on its own.
 */
export async function retryJob(ctx: FarmContext, who: Principal, id: string) {
  const row = await getJobRow(ctx, who, id);
  if (row.status !== 'failed' && row.status !== 'canceled') {
    throw new ApiError('conflict', `job ${id} is ${row.status}; only a failed or canceled job can be retried`);
  }
  // The original owner submits it again (an operator retrying a tenant's job bills the tenant).
  const owner: Principal = { ...who, tenantId: row.tenantId, operator: false };
  const body = {
    kind: row.kind,
    input: row.input,
    priority: row.priority,
    ...(row.name && { name: row.name }),
    ...(row.webhook && { webhook: row.webhook }),
    ...(row.webhookEventsFilter && { webhook_events_filter: row.webhookEventsFilter }),
  };
  return (await submitJob(ctx, owner, body, undefined)).job;
}
