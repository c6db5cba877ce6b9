/**
 * The farm's configuration: one zod schema over the environment, parsed once at start. A bad
 * value stops the process with a message that names the variable and says what it must be.
 */
import path from 'node:path';
import { z } from 'zod';

const flag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const positiveInt = z.coerce.number().int().positive();

export const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default('127.0.0.1'),
  /** Where clients and workers reach the API; signed URLs are built on it. */
  MALAN_PUBLIC_URL: z.url().optional(),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, { error: 'must be a postgres:// URL (leave it unset for the embedded database)' })
    .optional(),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, { error: 'must be a redis:// URL (leave it unset for an embedded redis-server)' }).optional(),
  MALAN_HOME: z.string().default('.malan'),
  MALAN_QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_{}.-]{1,64}$/, { error: 'letters, digits, _ . - { } only (at most 64)' })
    .default('malan'),
  /** Largest upload accepted by POST /v1/files, in bytes (default 20 GiB). */
  MALAN_MAX_UPLOAD_BYTES: positiveInt.default(20 * 1024 ** 3),
  /** Secret that signs worker URLs and local admin calls; generated under MALAN_HOME when unset. */
  MALAN_SECRET: z.string().min(32, { error: 'must be at least 32 characters' }).optional(),
  /** BullMQ lock duration for job kinds that run long (ms); a worker silent this long is stalled. */
  MALAN_LOCK_MS: positiveInt.default(30_000),
  /** How often workers look for stalled jobs (ms). */
  MALAN_STALLED_INTERVAL_MS: positiveInt.default(30_000),
  /** How often the reconciler compares the database with the queues (s). */
  MALAN_RECONCILE_SECONDS: positiveInt.default(60),
  /** Default job timeout when the input names none (s). */
  MALAN_JOB_TIMEOUT_SECONDS: positiveInt.default(6 * 3600),
  /** Grace between SIGTERM and SIGKILL for a child process (ms). */
  MALAN_KILL_GRACE_MS: positiveInt.default(5_000),
  /** Webhook delivery attempts before giving up. */
  MALAN_WEBHOOK_ATTEMPTS: positiveInt.default(8),
  MALAN_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** Process logs: one JSON object a line (for log shippers), or `pretty` lines for a person at a terminal. */
  MALAN_LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
  MALAN_FFMPEG_PATH: z.string().default('ffmpeg'),
  MALAN_FFPROBE_PATH: z.string().default('ffprobe'),
  /** Workers read inputs in place when they find them on the API's disk (same host); false: always over HTTP. */
  MALAN_READ_LOCAL_INPUTS: flag.default(true),
  /** Allow webhooks to loopback and private addresses (tests, single-host set-ups). */
  MALAN_ALLOW_PRIVATE_WEBHOOKS: flag.default(false),
  /** Hosts (comma-separated, e.g. "assets.lan,10.0.0.5:9000") that prediction input URLs may reach although they are private. */
  MALAN_INPUT_URL_ALLOWLIST: z.string().default(''),
  /** Largest data: URL accepted as a prediction input, decoded bytes (default 10 MB, as Replicate's clients assume). */
  MALAN_MAX_DATA_URL_BYTES: positiveInt.default(10_000_000),
  /** Largest image a model is fed, in pixels; bigger ones are refused before they are decoded. */
  MALAN_MAX_IMAGE_PIXELS: positiveInt.default(100_000_000),
  /** Most frames a video-to-video prediction may have. */
  MALAN_MAX_VIDEO_FRAMES: positiveInt.default(18_000),
  /** Memory a worker gives ONNX sessions before it unloads the least recently used (MiB). */
  MALAN_ONNX_MEMORY_MB: positiveInt.default(4096),
  /** Predictions a worker takes at once (they wait on its one ONNX session host, which batches them). */
  MALAN_INFERENCE_CONCURRENCY: positiveInt.default(32),
  /** Live segments a worker encodes at once (each runs one ffmpeg per rung). */
  MALAN_LIVE_CONCURRENCY: positiveInt.default(2),
  /** The largest live segment ingest takes (an 8K HEVC 2 s segment at 100 Mb/s is about 25 MB). */
  MALAN_LIVE_MAX_SEGMENT_BYTES: positiveInt.default(100 * 1024 * 1024),
  /** Labels of this worker (comma-separated, e.g. "studio-a,fast-disk") that render tasks may require. */
  MALAN_WORKER_TAGS: z
    .string()
    .regex(/^([a-z0-9][a-z0-9_.-]{0,62}(,[a-z0-9][a-z0-9_.-]{0,62})*)?$/, { error: 'comma-separated lower-case labels (a-z, 0-9, _ . -)' })
    .default(''),
  /** How often a worker reports a running job's usage so far (s): a crash loses at most this much metering. */
  MALAN_USAGE_INTERVAL_SECONDS: z.coerce.number().min(0.2).max(3600).default(10),
  /** The currency of the price book and invoices (ISO 4217). */
  MALAN_CURRENCY: z.string().regex(/^[A-Z]{3}$/, { error: 'an ISO 4217 code such as USD, EUR or CNY' }).default('USD'),
  /** Bill tenants for attempts that failed for the platform's reasons (a lost worker, an internal error)? */
  MALAN_BILL_PLATFORM_FAILURES: flag.default(false),
  /** Bill canceled jobs for the time they used? */
  MALAN_BILL_CANCELED: flag.default(true),
  /** Bill attempts that failed because of their input (unreadable media, a timeout the job set)? */
  MALAN_BILL_FAILED_INPUT: flag.default(true),
  /** Where charges are sent as CloudEvents batches (e.g. OpenMeter's https://…/api/v1/events); unset: pull only. */
  MALAN_BILLING_EXPORT_URL: z.url().optional(),
  /** Bearer token for the export URL. */
  MALAN_BILLING_EXPORT_TOKEN: z.string().optional(),
  /** The CloudEvents `source` of exported charges: keep it stable, receivers deduplicate by (source, id). */
  MALAN_BILLING_SOURCE: z.string().min(1).default('malan'),
  /** Where file bytes live: `local` (MALAN_HOME/storage, one host) or `s3` (a bucket every API host shares). */
  MALAN_STORAGE: z.enum(['local', 's3']).default('local'),
  /** The bucket, with MALAN_STORAGE=s3 (required then). Credentials come from the AWS SDK's chain (AWS_ACCESS_KEY_ID…, a profile, a role). */
  MALAN_S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { error: 'an S3 bucket name: 3 to 63 lower-case letters, digits, . and -' })
    .optional(),
  /** A folder in the bucket that holds the farm's objects (e.g. "malan/prod"), so that farms can share a bucket. */
  MALAN_S3_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*\/?$/, { error: 'a folder such as "malan" or "malan/prod": letters, digits, _ . - and / between them' })
    .optional(),
  /** An S3-compatible server (MinIO, Ceph, R2…); unset: AWS S3 itself. */
  MALAN_S3_ENDPOINT: z.url({ protocol: /^https?$/, error: 'an http(s):// URL such as http://minio.lan:9000' }).optional(),
  /** The region requests are signed for; unset: the AWS SDK's (AWS_REGION, the profile). */
  MALAN_S3_REGION: z
    .string()
    .regex(/^[a-z0-9-]{1,32}$/, { error: 'a region name such as us-east-1' })
    .optional(),
  /** Address buckets as ENDPOINT/BUCKET instead of BUCKET.ENDPOINT (most self-hosted servers need it). */
  MALAN_S3_FORCE_PATH_STYLE: flag.default(false),
})
  // Rules between variables: zod runs them once each variable on its own is valid.
  .superRefine((env, ctx) => {
    if (env.MALAN_STORAGE === 's3' && !env.MALAN_S3_BUCKET) {
      ctx.addIssue({ code: 'custom', path: ['MALAN_S3_BUCKET'], message: 'required with MALAN_STORAGE=s3: the bucket that holds the files' });
    }
  });

export type Env = z.infer<typeof envSchema>;

export interface Config extends Env {
  home: string; // MALAN_HOME, absolute
}

export class ConfigError extends Error {}

/** Never echoed back in an error: they carry secrets or passwords. */
const SECRET_VARIABLES = new Set(['MALAN_SECRET', 'DATABASE_URL', 'REDIS_URL', 'MALAN_BILLING_EXPORT_TOKEN']);

/** Parses the environment; throws ConfigError naming each bad variable. */
export function parseConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const result = envSchema.safeParse(cleaned);
  if (!result.success) {
    const shown = (name: string) => (SECRET_VARIABLES.has(name) ? '(hidden)' : JSON.stringify(cleaned[name] ?? ''));
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}=${shown(String(i.path[0]))}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return { ...result.data, home: path.resolve(result.data.MALAN_HOME) };
}

let loaded: Config | undefined;

/** The process's configuration, parsed on first use; exits with the message when it is bad. */
export function config(): Config {
  if (!loaded) {
    try {
      loaded = parseConfig();
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`malan: ${err.message}\n`);
        process.exit(2);
      }
      throw err;
    }
  }
  return loaded;
}
