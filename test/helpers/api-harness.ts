/**
 * The API in-process (Hono's app.request, no network) on a real database and a real Redis, for
 * integration tests that need no worker: each harness is a private farm (home, prefix, database).
 */
import { Writable } from 'node:stream';
import { createApp } from '../../src/api/app.js';
import { openFarm, type Farm } from '../../src/api/server.js';
import { createLogger } from '../../src/logger.js';
import { createKey } from '../../src/services/keys.js';
import { apiClient } from './api-client.js';
import { testWorld, type TestWorld } from './test-env.js';

export const BASE = 'http://farm.test';

export interface Harness {
  world: TestWorld;
  farm: Farm;
  app: ReturnType<typeof createApp>;
  /** A client for a key of `tenant` (created on first use). */
  as(tenant: string, operator?: boolean): Promise<ReturnType<typeof apiClient>>;
  /** The raw key of `tenant` (created on first use). */
  key(tenant: string, operator?: boolean): Promise<string>;
  anonymous: ReturnType<typeof apiClient>;
  logs: string[];
  close(): Promise<void>;
}

export async function apiHarness(opts: { env?: Record<string, string>; embeddedRedis?: boolean; background?: boolean } = {}): Promise<Harness> {
  const world = await testWorld({ env: opts.env, embeddedRedis: opts.embeddedRedis });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const farm = await openFarm(world.config, BASE, createLogger('api', { level: 'debug', out: sink }));
  if (opts.background) farm.startBackground();
  const app = createApp(farm.ctx, farm.hub);
  const fetchFn = async (url: string, init: RequestInit) => app.request(url, init);
  const keys = new Map<string, string>();
  const key = async (tenant: string, operator = false) => {
    const id = `${tenant}:${operator}`;
    if (!keys.has(id)) keys.set(id, (await createKey(farm.ctx.db, tenant, operator)).key);
    return keys.get(id)!;
  };
  return {
    world,
    farm,
    app,
    logs,
    anonymous: apiClient(BASE, null, fetchFn),
    key,
    async as(tenant, operator = false) {
      return apiClient(BASE, await key(tenant, operator), fetchFn);
    },
    async close() {
      for (const q of farm.ctx.queues.all()) await q.obliterate({ force: true }).catch(() => undefined);
      await farm.close();
    },
  };
}
