/**
 * The operating contract as an operator's script meets it: the `malan` CLI on the embedded
 * defaults (PGlite and a redis-server the farm starts itself under MALAN_HOME).
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { cliEntry } from '../../src/paths.js';
import { apiClient, waitForJob } from '../helpers/api-client.js';
import { startFarm } from '../helpers/farm-processes.js';
import { ASSETS, testWorld } from '../helpers/test-env.js';

function malan(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliEntry, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('malan CLI', () => {
  it('keys create works without a running serve and prints the key alone on the last line', async () => {
    const { env } = await testWorld();
    const res = await malan(['keys', 'create', '--tenant', 'studio-a'], env);
    expect(res.code).toBe(0);
    expect(res.stdout.trim().split('\n').pop()).toMatch(/^mk_[A-Za-z0-9_-]{40}$/);
    expect(res.stderr).toContain('shown only this once');
  });

  it('refuses bad commands and flags with a message saying what is wrong', async () => {
    const { env } = await testWorld();
    const cases: Array<[string[], RegExp]> = [
      [['keys', 'create'], /--tenant NAME/],
      [['keys', 'create', '--tenant', 'Bad Name!'], /tenant name "Bad Name!" is invalid/],
      [['keys', 'delete'], /unknown keys command/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['worker', '--concurrency', '0'], /--concurrency must be an integer ≥ 1/],
      [['worker', '--gpu', 'one'], /--gpu must be an integer ≥ 0/],
    ];
    for (const [args, message] of cases) {
      const res = await malan(args, env);
      expect(res.code, args.join(' ')).not.toBe(0);
      expect(res.stderr, args.join(' ')).toMatch(message);
    }
    const help = await malan(['--help'], env);
    expect(help.stdout).toContain('keys create --tenant NAME [--operator]');
  });

  it('migrate applies the migrations', async () => {
    const { env } = await testWorld();
    const res = await malan(['migrate'], env);
    expect(res.code).toBe(0);
    expect(res.stderr).toContain('migrations applied');
  });

  it('runs a whole farm on the embedded defaults: its own redis-server (AOF), shared by serve and worker, stopped with them', async () => {
    const world = await testWorld({ embeddedRedis: true });
    expect(world.env.REDIS_URL).toBeUndefined();
    const farm = await startFarm(world.env);
    try {
      const state = JSON.parse(readFileSync(path.join(world.home, 'redis/redis.json'), 'utf8')) as { port: number; pid: number };
      expect(farm.log('serve')).toContain(`redis://127.0.0.1:${state.port}`);
      expect(farm.log('worker-0')).toContain(`redis://127.0.0.1:${state.port}`);
      expect(existsSync(path.join(world.home, 'redis/appendonlydir'))).toBe(true);
      const key = await farm.createKey('studio-a'); // through the running serve: PGlite is one process
      const api = apiClient(farm.baseUrl, key);
      const file = (await api.upload(readFileSync(path.join(ASSETS, 'video/bug_video_640.mp4')), 'video/mp4')).body.id;
      const job = await waitForJob(api, (await api.post('/v1/jobs', { kind: 'transcode', input: { source: { file }, height: 144 } })).body.id);
      expect(job.status).toBe('succeeded');
      await farm.stop();
      // The last process out turned the embedded Redis off.
      let alive = true;
      for (let i = 0; i < 50 && alive; i++) {
        try {
          process.kill(state.pid, 0);
          await sleep(100);
        } catch {
          alive = false;
        }
      }
      expect(alive).toBe(false);
    } finally {
      await farm.stop();
    }
  });
});
