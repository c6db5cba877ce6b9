/**
 * Webhooks in the Standard Webhooks shape: `webhook-id`, `webhook-timestamp` and
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` with the tenant's `whsec_`
 * secret. Deliveries are BullMQ jobs, retried with exponential backoff; the id stays the same
 * across retries so receivers can drop duplicates.
 */
import { createHmac } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { isPrivateHost } from './webhook-url.js';
import { eq } from 'drizzle-orm';
import { jobs, tenants, type JobRow } from '../db/schema.js';
import { jobFields } from '../logger.js';
import { QUEUE_NAMES } from '../queue/messages.js';
import type { FarmContext } from './farm-context.js';
import { jobWithUsage } from './jobs.js';
import { predictionView } from './predictions.js';

export type WebhookEvent = 'start' | 'completed';

interface Delivery {
  webhookId: string;
  jobId: string;
  /** For log lines (deliveries queued before it was added lack it). */
  tenantId?: string;
  event: WebhookEvent;
}

export async function enqueueWebhook(ctx: FarmContext, job: JobRow, event: WebhookEvent): Promise<void> {
  if (!job.webhook) return;
  const filter = job.webhookEventsFilter ?? ['start', 'output', 'logs', 'completed'];
  if (!filter.includes(event)) return;
  const webhookId = `msg_${job.id.slice(4)}_${event}`;
  const data: Delivery = { webhookId, jobId: job.id, tenantId: job.tenantId, event };
  await ctx.queues.webhooks.add('deliver', data, {
    jobId: webhookId,
    attempts: ctx.config.MALAN_WEBHOOK_ATTEMPTS,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: { age: 24 * 3600 },
    removeOnFail: { age: 7 * 24 * 3600 },
  });
}

/** A public name can point at a private address: check what it resolves to, at delivery time. */
async function refusePrivateAddress(url: string): Promise<void> {
  const { hostname } = new URL(url);
  const addresses = await lookup(hostname.replace(/^\[|\]$/g, ''), { all: true }).catch(() => []);
  const inside = addresses.find((a) => isPrivateHost(a.address));
  if (inside) throw new UnrecoverableError(`webhook host ${hostname} resolves to ${inside.address}, a private address; not delivered`);
}

export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

export function startWebhookDelivery(ctx: FarmContext, connection: import('ioredis').Redis): Worker {
  const log = ctx.log.child('webhooks');
  const worker = new Worker(
    QUEUE_NAMES.webhooks,
    async (bullJob: Job<Delivery>) => {
      const { webhookId, jobId, event } = bullJob.data;
      const [row] = await ctx.db.select().from(jobs).where(eq(jobs.id, jobId));
      if (!row?.webhook) return;
      if (!ctx.config.MALAN_ALLOW_PRIVATE_WEBHOOKS) await refusePrivateAddress(row.webhook);
      const [tenant] = await ctx.db.select().from(tenants).where(eq(tenants.id, row.tenantId));
      // A prediction's webhook carries the prediction, as Replicate's clients expect.
      const body = JSON.stringify(row.kind === 'inference' ? await predictionView(ctx, row) : await jobWithUsage(ctx, row));
      const timestamp = Math.floor(Date.now() / 1000);
      const res = await fetch(row.webhook, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': webhookId,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook(tenant!.webhookSecret, webhookId, timestamp, body),
          'user-agent': 'malan-webhooks/1',
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(10_000),
      });
      if (res.status < 200 || res.status >= 300) {
        throw new Error(`webhook ${row.webhook} answered ${res.status} (attempt ${bullJob.attemptsMade + 1})`);
      }
      log.with(jobFields(jobId, row.tenantId)).info('webhook delivered', { event, status: res.status });
    },
    { connection, prefix: ctx.config.MALAN_QUEUE_PREFIX, concurrency: 8 },
  );
  worker.on('failed', (job, err) => log.with(job ? jobFields(job.data.jobId, job.data.tenantId) : {}).warn('webhook delivery failed', { event: job?.data.event, error: err.message }));
  return worker;
}
