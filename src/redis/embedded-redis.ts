/**
 * Redis for the farm: REDIS_URL when set, else a `redis-server` the farm starts itself under
 * MALAN_HOME (AOF on, no eviction, loopback only). It is daemonised so that every process with
 * the same MALAN_HOME (serve, workers, the CLI) finds and shares it through `redis/redis.json`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

interface EmbeddedRedisState {
  port: number;
  pid: number;
}

export class RedisUnavailableError extends Error {}

export async function resolveRedisUrl(opts: { redisUrl?: string; home: string }): Promise<string> {
  if (opts.redisUrl) return opts.redisUrl;
  const dir = path.join(opts.home, 'redis');
  mkdirSync(dir, { recursive: true });
  const running = await findRunning(dir);
  if (running) return `redis://127.0.0.1:${running.port}`;
  return withLock(path.join(dir, 'start.lock'), async () => {
    const again = await findRunning(dir); // another process may have started it while we waited
    if (again) return `redis://127.0.0.1:${again.port}`;
    const port = await freePort();
    await startRedisServer(dir, port);
    return `redis://127.0.0.1:${port}`;
  });
}

async function findRunning(dir: string): Promise<EmbeddedRedisState | null> {
  let state: EmbeddedRedisState;
  try {
    state = JSON.parse(readFileSync(path.join(dir, 'redis.json'), 'utf8')) as EmbeddedRedisState;
  } catch {
    return null;
  }
  return (await redisAnswers(state.port)) ? state : null;
}

async function startRedisServer(dir: string, port: number): Promise<void> {
  const which = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (which.error) {
    throw new RedisUnavailableError(
      'REDIS_URL is not set and redis-server is not installed, so the farm has no Redis. ' +
        'Either set REDIS_URL=redis://host:6379 or install Redis (Debian: apt-get install redis-server).',
    );
  }
  const pidFile = path.join(dir, 'redis.pid');
  const logFile = path.join(dir, 'redis.log');
  // AOF makes queued work survive a Redis restart; noeviction because BullMQ must never lose keys.
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
    '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '',
    '--maxmemory-policy', 'noeviction', '--daemonize', 'yes',
    '--pidfile', pidFile, '--logfile', logFile,
  ];
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  const code: number = await new Promise((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  if (code !== 0) throw new RedisUnavailableError(`redis-server failed to start (exit ${code}); see ${logFile}`);
  for (let i = 0; i < 100; i++) {
    if (await redisAnswers(port)) {
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      writeFileSync(path.join(dir, 'redis.json'), JSON.stringify({ port, pid }));
      return;
    }
    await sleep(50);
  }
  throw new RedisUnavailableError(`redis-server did not answer on port ${port} within 5 s; see ${logFile}`);
}

/** Stops the embedded redis-server of a MALAN_HOME, if one runs (tests and `malan stop`). */
export async function stopEmbeddedRedis(home: string): Promise<void> {
  const dir = path.join(home, 'redis');
  const state = await findRunning(dir);
  if (!state) return;
  const signal = (sig: NodeJS.Signals | 0) => {
    try {
      process.kill(state.pid, sig);
      return true;
    } catch {
      return false; // gone
    }
  };
  signal('SIGTERM');
  // Waits for the process itself, not its port: another server may take the port meanwhile,
  // and a busy machine must not turn this into a minute-long wait. At most 5 s, then SIGKILL.
  for (let i = 0; i < 100 && signal(0); i++) await sleep(50);
  if (signal(0)) signal('SIGKILL');
  rmSync(path.join(dir, 'redis.json'), { force: true });
}

/** Whether a Redis answers PING on this loopback port now. */
export function redisAnswers(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A lock directory (mkdir is atomic); a lock older than 30 s is taken as left by a dead process. */
async function withLock<T>(lockDir: string, fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      mkdirSync(lockDir);
      break;
    } catch {
      if (i > 600) rmSync(lockDir, { recursive: true, force: true });
      await sleep(50);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

/**
 * The last farm process of a MALAN_HOME to stop turns its embedded Redis off (it saves its AOF
 * first): nothing is left running behind a farm that was stopped. "Last" means that, its own
 * connections closed, only this probe is connected. With REDIS_URL set this does nothing.
 */
const RELEASE_PROBE = 'malan-release-probe';

export async function releaseEmbeddedRedis(opts: { redisUrl?: string; home: string }): Promise<void> {
  if (opts.redisUrl) return;
  const state = await findRunning(path.join(opts.home, 'redis'));
  if (!state) return;
  const { Redis } = await import('ioredis');
  // Named so that two processes stopping together do not count each other's probe as a user.
  const probe = new Redis(state.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, connectionName: RELEASE_PROBE });
  try {
    await probe.connect();
    // Connections close asynchronously: look a few times before deciding someone else still uses it.
    for (const wait of [0, 200, 500, 1000]) {
      await sleep(wait);
      const clients = String(await probe.call('CLIENT', 'LIST'));
      const users = clients.split('\n').filter((line) => line.trim() !== '' && !line.includes(`name=${RELEASE_PROBE}`));
      if (users.length === 0) {
        await probe.call('SHUTDOWN').catch(() => undefined); // the connection drops as it stops
        return;
      }
    }
  } catch {
    /* already gone */
  } finally {
    probe.disconnect();
  }
}
