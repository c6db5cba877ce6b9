import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { RedisUnavailableError, redisAnswers, releaseEmbeddedRedis, resolveRedisUrl, stopEmbeddedRedis } from './embedded-redis.js';

const answers = (port: number) => redisAnswers(port, 1000);

/** Waits (up to 10 s) for nothing to answer on the port; returns whether it went quiet. */
async function goesQuiet(port: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (!(await answers(port))) return true;
    await sleep(100);
  }
  return false;
}

const portOf = (url: string) => Number(new URL(url).port);

describe('embedded Redis', () => {
  const homes: string[] = [];
  const clients: Redis[] = [];
  const freshHome = () => {
    const home = mkdtempSync(path.join(tmpdir(), 'malan-redis-'));
    homes.push(home);
    return home;
  };
  const connect = async (url: string) => {
    const client = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
    clients.push(client);
    await client.connect();
    return client;
  };

  afterEach(() => {
    for (const client of clients.splice(0)) client.disconnect();
  });
  afterAll(async () => {
    for (const home of homes) {
      await stopEmbeddedRedis(home);
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('starts a redis-server under the home with AOF on and no eviction, bound to loopback', async () => {
    const home = freshHome();
    const url = await resolveRedisUrl({ home });
    expect(url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    const state = JSON.parse(readFileSync(path.join(home, 'redis', 'redis.json'), 'utf8')) as { port: number; pid: number };
    expect(state.port).toBe(portOf(url));
    expect(state.pid).toBeGreaterThan(0);
    const client = await connect(url);
    expect(await client.call('CONFIG', 'GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    expect(await client.call('CONFIG', 'GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    expect(await client.call('CONFIG', 'GET', 'bind')).toEqual(['bind', '127.0.0.1']);
    expect(await client.call('CONFIG', 'GET', 'dir')).toEqual(['dir', path.join(home, 'redis')]);
  });

  it('shares one server between calls on the same home', async () => {
    const home = freshHome();
    const first = await resolveRedisUrl({ home });
    const client = await connect(first);
    await client.set('marker', 'kept');
    const second = await resolveRedisUrl({ home });
    expect(second).toBe(first);
    expect(await (await connect(second)).get('marker')).toBe('kept');
  });

  it('starts one server when two calls race on a fresh home', async () => {
    const home = freshHome();
    const [a, b] = await Promise.all([resolveRedisUrl({ home }), resolveRedisUrl({ home })]);
    expect(a).toBe(b);
    expect(await answers(portOf(a))).toBe(true);
    expect(existsSync(path.join(home, 'redis', 'start.lock'))).toBe(false);
  });

  it('says what to do when REDIS_URL is unset and redis-server is not installed', async () => {
    const path0 = process.env.PATH;
    process.env.PATH = freshHome(); // a directory with no redis-server in it
    try {
      const err = await resolveRedisUrl({ home: freshHome() }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RedisUnavailableError);
      expect((err as Error).message).toMatch(/REDIS_URL is not set and redis-server is not installed.*set REDIS_URL=redis:\/\/host:6379 or install Redis \(Debian: apt-get install redis-server\)/);
    } finally {
      process.env.PATH = path0;
    }
  });

  it('gives back a configured REDIS_URL untouched and starts nothing', async () => {
    const home = freshHome();
    expect(await resolveRedisUrl({ home, redisUrl: 'redis://cache.example:6380/2' })).toBe('redis://cache.example:6380/2');
    expect(existsSync(path.join(home, 'redis'))).toBe(false);
  });

  it('is not stopped by a release while another client is connected, and is once the last one leaves', async () => {
    const home = freshHome();
    const url = await resolveRedisUrl({ home });
    const port = portOf(url);
    const user = await connect(url);

    await releaseEmbeddedRedis({ home });
    expect(await user.ping()).toBe('PONG');
    expect(await answers(port)).toBe(true);

    // A farm with REDIS_URL set never touches the embedded one.
    await releaseEmbeddedRedis({ home, redisUrl: url });
    expect(await answers(port)).toBe(true);

    await user.quit();
    const consoleError = vi.spyOn(console, 'error');
    try {
      await releaseEmbeddedRedis({ home });
      expect(await goesQuiet(port)).toBe(true);
      // The next process on this home starts it again.
      const again = await resolveRedisUrl({ home });
      expect(await answers(portOf(again))).toBe(true);
      // The release probe must not try to reconnect to the server it just shut down.
      expect(consoleError.mock.calls.map((args) => String(args[0]))).not.toContainEqual(expect.stringContaining('Unhandled error event'));
    } finally {
      consoleError.mockRestore();
    }
  });

  it('does nothing on a home without a running server', async () => {
    const home = freshHome();
    await expect(releaseEmbeddedRedis({ home })).resolves.toBeUndefined();
    expect(existsSync(path.join(home, 'redis'))).toBe(false);
  });
});
