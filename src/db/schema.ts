/**
 * The farm's durable truth. Only the API process writes here; workers report through the
 * `reports` queue and the API records each report once, keyed so that a duplicate is a no-op.
 */
import { sql } from 'drizzle-orm';
import {
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  bigint,
} from 'drizzle-orm/pg-core';

const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow();

export const tenants = pgTable('tenants', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  /** Standard-webhooks secret (`whsec_…`) that signs this tenant's webhooks. */
  webhookSecret: text('webhook_secret').notNull(),
  createdAt: createdAt(),
});

export const apiKeys = pgTable('api_keys', {
  id: text('id').primaryKey(),
  tenantId: text('tenant_id').notNull().references(() => tenants.id),
  /** sha256 of the key: the key itself is shown once and never stored. */
  keyHash: text('key_hash').notNull().unique(),
  /** First characters of the key, to tell keys apart in listings. */
  keyPrefix: text('key_prefix').notNull(),
  operator: boolean('operator').notNull().default(false),
  createdAt: createdAt(),
  revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
});

export const files = pgTable(
  'files',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    name: text('name').notNull(),
    contentType: text('content_type').notNull(),
    size: bigint('size', { mode: 'number' }).notNull(),
    sha256: text('sha256').notNull(),
    storageKey: text('storage_key').notNull(),
    /** Set for outputs: the job and attempt that wrote the file. */
    jobId: text('job_id'),
    attempt: integer('attempt'),
    createdAt: createdAt(),
  },
  (t) => [index('files_tenant_idx').on(t.tenantId, t.id), uniqueIndex('files_output_idx').on(t.jobId, t.attempt, t.name)],
);

/** `paused`: a render job whose tasks do not start until it is resumed (render jobs only). */
export const JOB_STATUSES = ['queued', 'running', 'paused', 'succeeded', 'failed', 'canceled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'canceled'];

export const jobs = pgTable(
  'jobs',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    kind: text('kind').notNull(),
    status: text('status').$type<JobStatus>().notNull(),
    priority: integer('priority').notNull().default(0),
    /** The submitter's own label ("Ep. 12 final grade"), shown in lists and searchable; never used by the farm. */
    name: text('name'),
    input: jsonb('input').notNull(),
    outputs: jsonb('outputs').$type<JobOutput[]>().notNull().default(sql`'[]'::jsonb`),
    progress: doublePrecision('progress').notNull().default(0),
    error: jsonb('error').$type<{ code: string; message: string } | null>(),
    /** Execution details: the source probe, the path that ran and why, fallbacks taken. */
    execution: jsonb('execution').$type<Record<string, unknown> | null>(),
    /** A prediction's output (JSON; files in it as `{"$file": "<output name>"}`, made into signed URLs when read). */
    result: jsonb('result'),
    webhook: text('webhook'),
    webhookEventsFilter: jsonb('webhook_events_filter').$type<string[] | null>(),
    idempotencyKey: text('idempotency_key'),
    /** sha256 of the request that created the job, to refuse a reused key with another body. */
    requestHash: text('request_hash'),
    attempts: integer('attempts').notNull().default(0),
    createdAt: createdAt(),
    startedAt: timestamp('started_at', { withTimezone: true, mode: 'date' }),
    completedAt: timestamp('completed_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    uniqueIndex('jobs_idempotency_idx').on(t.tenantId, t.idempotencyKey),
    index('jobs_tenant_idx').on(t.tenantId, t.id),
    index('jobs_status_idx').on(t.status),
  ],
);

export interface JobOutput {
  file: string;
  role: string;
  rendition?: { name: string; width: number; height: number; codec: string; bitrate: number };
  url?: string;
  name?: string;
  content_type?: string;
  size?: number;
}

export const jobAttempts = pgTable(
  'job_attempts',
  {
    jobId: text('job_id').notNull().references(() => jobs.id),
    attempt: integer('attempt').notNull(),
    workerId: text('worker_id').notNull(),
    status: text('status').$type<'running' | 'succeeded' | 'failed' | 'canceled' | 'lost'>().notNull(),
    path: text('path'),
    error: jsonb('error').$type<{ code: string; message: string } | null>(),
    startedAt: timestamp('started_at', { withTimezone: true, mode: 'date' }).notNull(),
    endedAt: timestamp('ended_at', { withTimezone: true, mode: 'date' }),
    /** Who pays for this attempt, decided once when it ends or is lost (src/billing/policy.ts). */
    billedTo: text('billed_to').$type<'tenant' | 'platform'>(),
    billingReason: text('billing_reason'),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.attempt] })],
);

export const usageEvents = pgTable(
  'usage_events',
  {
    /** Deterministic: `${job}:${attempt}:${sequence}`, so a duplicate report cannot count twice. */
    id: text('id').primaryKey(),
    jobId: text('job_id').notNull().references(() => jobs.id),
    tenantId: text('tenant_id').notNull().references(() => tenants.id),
    attempt: integer('attempt').notNull(),
    sequence: integer('sequence').notNull(),
    workerId: text('worker_id').notNull(),
    wallSeconds: doublePrecision('wall_seconds').notNull(),
    cpuSeconds: doublePrecision('cpu_seconds').notNull(),
    gpuSeconds: doublePrecision('gpu_seconds').notNull(),
    /** GPU model name, or `cpu` when no GPU did the work. */
    gpuModel: text('gpu_model').notNull(),
    gpuUuid: text('gpu_uuid'),
    outputSeconds: doublePrecision('output_seconds').notNull().default(0),
    /**
     * False when the tenant is not charged: set when the attempt is rated (a platform failure, a
     * duplicate attempt after the job succeeded). True until then.
     */
    billable: boolean('billable').notNull().default(true),
    /** The job's kind, so usage can be read by kind without a join. */
    kind: text('kind'),
    /** Meters beyond compute that the kind measured (transcoded renditions, frames, predictions). */
    meters: jsonb('meters').$type<ExtraMeters>().notNull().default(sql`'{}'::jsonb`),
    /** True for the attempt's last event (sent with its end); the others are periodic increments. */
    final: boolean('final').notNull().default(false),
    /** When the worker measured it: prices and billing periods are chosen by this time. */
    occurredAt: timestamp('occurred_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    /** When the attempt's outcome was known and this event was priced into charges. */
    ratedAt: timestamp('rated_at', { withTimezone: true, mode: 'date' }),
    createdAt: createdAt(),
  },
  (t) => [index('usage_job_idx').on(t.jobId, t.attempt), index('usage_tenant_idx').on(t.tenantId, t.createdAt)],
);

/** What a usage event carries besides compute seconds; every field optional (a kind reports what it measured). */
export interface ExtraMeters {
  /** Transcoded output, per rendition: its height (the resolution class), codec and media seconds. */
  renditions?: Array<{ height: number; codec: string; seconds: number }>;
  framesRendered?: number;
  predictions?: number;
  predictSeconds?: number;
  channelHours?: number;
}

export const jobLogs = pgTable(
  'job_logs',
  {
    jobId: text('job_id').notNull().references(() => jobs.id),
    attempt: integer('attempt').notNull(),
    sequence: integer('sequence').notNull(),
    lines: jsonb('lines').$type<LogLine[]>().notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.attempt, t.sequence] })],
);

export interface LogLine {
  t: string; // ISO time
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
}

export const workers = pgTable('workers', {
  id: text('id').primaryKey(),
  hostname: text('hostname').notNull(),
  pid: integer('pid').notNull(),
  kinds: jsonb('kinds').$type<string[]>().notNull(),
  capabilities: jsonb('capabilities').notNull(),
  status: text('status').$type<'up' | 'stopped'>().notNull(),
  startedAt: timestamp('started_at', { withTimezone: true, mode: 'date' }).notNull(),
  lastSeenAt: timestamp('last_seen_at', { withTimezone: true, mode: 'date' }).notNull(),
  stoppedAt: timestamp('stopped_at', { withTimezone: true, mode: 'date' }),
});

/** The models the farm serves (`owner/name`), each with versions; the newest is what a bare name runs. */
export const models = pgTable(
  'models',
  {
    id: text('id').primaryKey(),
    owner: text('owner').notNull(),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    task: text('task').notNull(),
    license: text('license').notNull(),
    latestVersionId: text('latest_version_id'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('models_name_idx').on(t.owner, t.name)],
);

export const modelVersions = pgTable(
  'model_versions',
  {
    /** sha256 of the manifest and the weights' sha256: the same model added twice is one version. */
    id: text('id').primaryKey(),
    modelId: text('model_id').notNull().references(() => models.id),
    label: text('label'),
    manifest: jsonb('manifest').notNull(),
    weightsFileId: text('weights_file_id').notNull().references(() => files.id),
    weightsSha256: text('weights_sha256').notNull(),
    weightsSize: bigint('weights_size', { mode: 'number' }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('model_versions_model_idx').on(t.modelId, t.createdAt)],
);

export type ModelRow = typeof models.$inferSelect;
export type ModelVersionRow = typeof modelVersions.$inferSelect;
export type TenantRow = typeof tenants.$inferSelect;
export type JobRow = typeof jobs.$inferSelect;
export type FileRow = typeof files.$inferSelect;
