/** The facts a reader needs to compare two bench runs: machine, runtimes, engines, the commit. */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { Redis } from 'ioredis';

export interface EnvironmentFacts {
  date: string;
  host: string;
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  loadAverageAtStart: number[];
  node: string;
  ffmpeg: string;
  redis: string;
  database: string;
  commit: string;
}

export async function environmentFacts(opts: { ffmpegPath: string; redisUrl: string; database: string }): Promise<EnvironmentFacts> {
  return {
    date: new Date().toISOString(),
    host: `${os.hostname()} (${os.platform()} ${os.release()})`,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
    node: process.version,
    ffmpeg: firstLine(run(opts.ffmpegPath, ['-hide_banner', '-version'])).replace(/ Copyright.*/, ''),
    redis: await redisVersion(opts.redisUrl),
    database: opts.database,
    commit: commitOf(),
  };
}

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return 'unavailable';
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0]?.trim() ?? s;
}

function commitOf(): string {
  const head = run('git', ['rev-parse', '--short', 'HEAD']).trim();
  if (head === 'unavailable' || head === '') return 'unknown';
  return run('git', ['status', '--porcelain']).trim() ? `${head} (with uncommitted changes)` : head;
}

async function redisVersion(url: string): Promise<string> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const info = await redis.info('server');
    return `${/redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown'} at ${url}`;
  } catch (err) {
    return `unreachable (${(err as Error).message})`;
  } finally {
    redis.disconnect();
  }
}
