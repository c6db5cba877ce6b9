/**
 * `malan serve`: the API process. It is the one writer to the database: it records workers'
 * reports, delivers webhooks and runs the reconciler, besides answering HTTP.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { serve } from '@hono/node-server';
import type { Config } from '../config/env.js';
import { openDatabase } from '../db/database.js';
import { createLogger } from '../logger.js';
import { FarmQueues } from '../queue/farm-queues.js';
import { redisConnection } from '../queue/redis.js';
import { resolveRedisUrl } from '../redis/embedded-redis.js';
import type { FarmContext } from '../services/farm-context.js';
import { JobEventHub } from '../services/job-events.js';
import { startReconciler } from '../services/reconciler.js';
import { startReportRecorder } from '../services/report-recorder.js';
import { loadSecret, UrlSigner } from '../services/url-signer.js';
import { startWebhookDelivery } from '../services/webhooks.js';
import { LocalDiskStorage } from '../storage/local-disk-storage.js';
import { createApp } from './app.js';

export async function startServer(config: Config): Promise<{ port: number; stop(): Promise<void> }> {
  const log = createLogger('api', config.MALAN_LOG_LEVEL);
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, home: config.home });
  await database.migrate();
  log.info('database ready', { kind: database.kind, at: database.location });
  const redisUrl = await resolveRedisUrl({ redisUrl: config.REDIS_URL, home: config.home });
  const redis = redisConnection(redisUrl, 'malan-api');
  const queues = new FarmQueues(redis, config.MALAN_QUEUE_PREFIX);
  const hub = new JobEventHub(redisConnection(redisUrl, 'malan-api-events'), config.MALAN_QUEUE_PREFIX);

  // The port is known only once listening (PORT=0 picks a free one), and signed URLs need it.
  let resolvePort: (p: number) => void;
  const portKnown = new Promise<number>((r) => (resolvePort = r));
  const server = serve({ fetch: (req, env) => app.fetch(req, env), port: config.PORT, hostname: config.HOST }, (info) => resolvePort(info.port));
  const port = await portKnown;
  const baseUrl = config.MALAN_PUBLIC_URL?.replace(/\/$/, '') ?? `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${port}`;
  const ctx: FarmContext = {
    config,
    db: database.db,
    storage: new LocalDiskStorage(path.join(config.home, 'storage')),
    queues,
    redis,
    signer: new UrlSigner(loadSecret(config.home, config.MALAN_SECRET), baseUrl),
    baseUrl,
    log,
  };
  const app = createApp(ctx, hub);
  const recorder = startReportRecorder(ctx, redisConnection(redisUrl, 'malan-api-reports'));
  const webhooks = startWebhookDelivery(ctx, redisConnection(redisUrl, 'malan-api-webhooks'));
  const stopReconciler = startReconciler(ctx);
  const serveFile = path.join(config.home, 'serve.json');
  writeFileSync(serveFile, JSON.stringify({ pid: process.pid, port, baseUrl }));
  log.info(`listening on ${baseUrl}`, { database: database.kind, redis: redisUrl, prefix: config.MALAN_QUEUE_PREFIX });

  return {
    port,
    stop: async () => {
      stopReconciler();
      const closed = new Promise<void>((r) => server.close(() => r()));
      (server as import('node:http').Server).closeAllConnections?.(); // open SSE streams would hold close() forever
      await closed;
      await Promise.all([recorder.close(), webhooks.close()]);
      await queues.close();
      await hub.close();
      redis.disconnect();
      await database.close();
      rmSync(serveFile, { force: true });
      log.info('stopped');
    },
  };
}
