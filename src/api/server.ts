/**
 * `malan serve`: the API process. It is the one writer to the database: it records workers'
 * reports, delivers webhooks and runs the reconciler, besides answering HTTP.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { serve } from '@hono/node-server';
import type { Config } from '../config/env.js';
import { openDatabase } from '../db/database.js';
import { createLogger, type Logger } from '../logger.js';
import { FarmQueues } from '../queue/farm-queues.js';
import { redisConnection } from '../queue/redis.js';
import { releaseEmbeddedRedis, resolveRedisUrl } from '../redis/embedded-redis.js';
import type { FarmContext } from '../services/farm-context.js';
import { JobEventHub } from '../services/job-events.js';
import { startLiveSweeper } from '../services/live-publisher.js';
import { startReconciler } from '../services/reconciler.js';
import { startReportRecorder } from '../services/report-recorder.js';
import { loadSecret, UrlSigner } from '../services/url-signer.js';
import { startWebhookDelivery } from '../services/webhooks.js';
import { openStorage } from '../storage/open-storage.js';
import { createApp } from './app.js';
import { startOutboxExport } from '../billing/outbox-export.js';
import { startStorageMeter } from '../billing/storage-meter.js';

export interface Farm {
  ctx: FarmContext;
  hub: JobEventHub;
  redisUrl: string;
  /** Starts what runs beside HTTP: the report recorder, webhook delivery, the reconciler. */
  startBackground(): void;
  close(): Promise<void>;
}

/** Opens everything the API needs (migrating the database); `serve` and the tests share this. */
export async function openFarm(config: Config, baseUrl: string, log: Logger): Promise<Farm> {
  const storage = await openStorage(config); // first: a bucket that cannot be used stops the start before anything else
  log.info('storage ready', { kind: config.MALAN_STORAGE, ...(config.MALAN_STORAGE === 's3' && { bucket: config.MALAN_S3_BUCKET, prefix: config.MALAN_S3_PREFIX ?? '' }) });
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, home: config.home });
  await database.migrate();
  log.info('database ready', { kind: database.kind, at: database.location });
  const redisUrl = await resolveRedisUrl({ redisUrl: config.REDIS_URL, home: config.home });
  const redis = redisConnection(redisUrl, 'malan-api');
  const hub = new JobEventHub(redisConnection(redisUrl, 'malan-api-events'), config.MALAN_QUEUE_PREFIX);
  const ctx: FarmContext = {
    config,
    db: database.db,
    storage,
    queues: new FarmQueues(redis, config.MALAN_QUEUE_PREFIX),
    redis,
    signer: new UrlSigner(loadSecret(config.home, config.MALAN_SECRET), baseUrl),
    baseUrl,
    log,
  };
  const connections = [redis];
  const stops: Array<() => Promise<void> | void> = [];
  return {
    ctx,
    hub,
    redisUrl,
    startBackground() {
      const reports = redisConnection(redisUrl, 'malan-api-reports');
      const hooks = redisConnection(redisUrl, 'malan-api-webhooks');
      connections.push(reports, hooks);
      const recorder = startReportRecorder(ctx, reports);
      const webhooks = startWebhookDelivery(ctx, hooks);
      const stopReconciler = startReconciler(ctx);
      const stopStorageMeter = startStorageMeter(ctx.db, config, log.child('billing'));
      const stopExport = startOutboxExport(ctx.db, config, log.child('billing'));
      const stopLive = startLiveSweeper(ctx);
      stops.push(stopLive, stopReconciler, stopStorageMeter, stopExport, () => recorder.close(), () => webhooks.close());
    },
    async close() {
      for (const stop of stops) await stop();
      await ctx.queues.close();
      await hub.close();
      for (const c of connections) c.disconnect();
      await database.close();
      await releaseEmbeddedRedis({ redisUrl: config.REDIS_URL, home: config.home });
    },
  };
}

export async function startServer(config: Config): Promise<{ port: number; log: Logger; stop(): Promise<void> }> {
  const log = createLogger('api', { level: config.MALAN_LOG_LEVEL, format: config.MALAN_LOG_FORMAT });
  // The port is known only once listening (PORT=0 picks a free one), and signed URLs need it.
  let handler: (req: Request) => Response | Promise<Response> = () => new Response('starting', { status: 503 });
  let resolvePort: (p: number) => void;
  const portKnown = new Promise<number>((r) => (resolvePort = r));
  const server = serve({ fetch: (req) => handler(req), port: config.PORT, hostname: config.HOST }, (info) => resolvePort(info.port));
  // Idle keep-alive connections stay open longer than clients and proxies keep theirs (Node's 5 s
  // default loses the race to a client that reuses a socket just as the server closes it, and a
  // POST with a streamed body cannot be retried). 65 s outlasts the usual 60 s load-balancer idle.
  const http = server as import('node:http').Server;
  http.keepAliveTimeout = 65_000;
  http.headersTimeout = 66_000;
  const port = await portKnown;
  const baseUrl = config.MALAN_PUBLIC_URL?.replace(/\/$/, '') ?? `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${port}`;
  const farm = await openFarm(config, baseUrl, log);
  const app = createApp(farm.ctx, farm.hub);
  handler = (req) => app.fetch(req);
  farm.startBackground();
  const serveFile = path.join(config.home, 'serve.json');
  writeFileSync(serveFile, JSON.stringify({ pid: process.pid, port, baseUrl }));
  log.info(`listening on ${baseUrl}`, { redis: farm.redisUrl, prefix: config.MALAN_QUEUE_PREFIX });

  return {
    port,
    log,
    stop: async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      (server as import('node:http').Server).closeAllConnections?.(); // open SSE streams would hold close() forever
      await closed;
      rmSync(serveFile, { force: true });
      await farm.close();
      log.info('stopped');
    },
  };
}
