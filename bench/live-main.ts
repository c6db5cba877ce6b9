/**
 * The live phase alone (bench/live.ts): its own farm (`malan serve` + one `malan worker` from
 * dist/, a private testWorld), the pre-cut 1080p segments, then the curve. Build first
 * (`npm run build`), then `node dist/bench/live-main.js [--quick] [--max-channels N]
 * [--stream-seconds S] [--await-segment] [--keep] [--out FILE]`. Its results go under the `live` key
 * (`liveAwaitSegment` with --await-segment) of bench/results.json (bench/results.quick.json with
 * --quick), leaving the other keys as they were; its `environment` says which run they come from.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { apiClient } from '../test/helpers/api-client.js';
import { startFarm, type FarmProcesses } from '../test/helpers/farm-processes.js';
import { testWorld } from '../test/helpers/test-env.js';
import { packageRoot } from '../src/paths.js';
import { environmentFacts } from './environment.js';
import { benchCleanup } from './cleanup.js';
import { LIVE_PROFILES, LIVE_SEGMENT_SECONDS, liveBench } from './live.js';
import { renderLive } from './live-report.js';
import { prepareLiveSource } from './live-source.js';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    out: { type: 'string' },
    'max-channels': { type: 'string' },
    'stream-seconds': { type: 'string' },
    'await-segment': { type: 'boolean', default: false },
  },
});
const mode = flags.quick ? 'quick' : 'full';
const profile = {
  ...LIVE_PROFILES[mode],
  ...(flags['max-channels'] && { maxChannels: positive('--max-channels', flags['max-channels']) }),
  ...(flags['stream-seconds'] && { streamSeconds: positive('--stream-seconds', flags['stream-seconds']) }),
  awaitSegment: flags['await-segment'],
};
const outFile = path.resolve(flags.out ?? path.join(packageRoot, 'bench', mode === 'quick' ? 'results.quick.json' : 'results.json'));
const say = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

const tmp = mkdtempSync(path.join(os.tmpdir(), 'malan-bench-live-'));
const world = await testWorld({ env: { MALAN_RECONCILE_SECONDS: '3600' } });
const redisUrl = world.env.REDIS_URL!;
let farm: FarmProcesses | undefined;

const cleanup = benchCleanup({ say, farm: () => farm, redisUrl, prefix: world.env.MALAN_QUEUE_PREFIX!, home: world.home, tmp, keep: flags.keep === true });

try {
  const environment = await environmentFacts({ ffmpegPath: world.config.MALAN_FFMPEG_PATH, redisUrl, database: 'pglite (embedded, in the API process)' });
  say(`live phase alone (${mode}); farm home ${world.home}, prefix ${world.env.MALAN_QUEUE_PREFIX}`);
  say(`cutting ${profile.streamSeconds} s of 1080p30 into ${LIVE_SEGMENT_SECONDS} s segments (before the farm starts)`);
  const source = await prepareLiveSource({ ffmpegPath: world.config.MALAN_FFMPEG_PATH, ffprobePath: world.config.MALAN_FFPROBE_PATH, dir: tmp, seconds: profile.streamSeconds, segmentSeconds: LIVE_SEGMENT_SECONDS });
  farm = await startFarm(world.env, { workers: 1 });
  const api = apiClient(farm.baseUrl, await farm.createKey(`bench-live-${randomBytes(3).toString('hex')}`));
  const live = await liveBench({ api, source, ffmpegPath: world.config.MALAN_FFMPEG_PATH, tmp, profile, liveConcurrency: world.config.MALAN_LIVE_CONCURRENCY, say });
  process.stdout.write(`\n${renderLive(live).join('\n')}\n`);
  const previous = existsSync(outFile) ? (JSON.parse(readFileSync(outFile, 'utf8')) as Record<string, unknown>) : {};
  // The patient-encoder variant has its own key, so that one file holds both curves.
  const key = profile.awaitSegment ? 'liveAwaitSegment' : 'live';
  writeFileSync(outFile, `${JSON.stringify({ ...previous, [key]: { mode, environment, ...live } }, null, 2)}\n`);
  say(`results written under "${key}" in ${path.relative(process.cwd(), outFile) || outFile}`);
} catch (err) {
  say(`FAILED: ${(err as Error).stack ?? err}`);
  if (farm) for (const name of ['serve', 'worker-0'] as const) say(`--- tail of ${name}.log ---\n${farm.log(name).split('\n').slice(-25).join('\n')}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}

function positive(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    say(`${flag} must be a positive integer, got '${value}'`);
    process.exit(2);
  }
  return n;
}
