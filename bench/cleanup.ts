/**
 * What a bench run leaves behind, removed once at its end and on Ctrl-C: the farm's processes,
 * its queues and keys under its prefix, anything else the run names, its temp dir and (unless
 * kept) the farm's home.
 */
import { rmSync } from 'node:fs';
import type { FarmProcesses } from '../test/helpers/farm-processes.js';
import { QUEUE_NAMES } from '../src/queue/messages.js';
import { removePrefix } from './redis-keys.js';

export interface CleanupOptions {
  say: (line: string) => void;
  farm: () => FarmProcesses | undefined;
  redisUrl: string;
  prefix: string;
  home: string;
  tmp: string;
  keep: boolean;
  /** More steps, run after the farm's keys are gone. */
  extra?: Array<[what: string, step: () => Promise<unknown>]>;
}

export function benchCleanup(o: CleanupOptions): () => Promise<void> {
  let cleaned: Promise<void> | undefined;
  const cleanup = () =>
    (cleaned ??= (async () => {
      const step = async (what: string, fn: () => Promise<unknown>) => fn().catch((err: Error) => o.say(`cleanup: ${what} failed: ${err.message}`));
      const farm = o.farm();
      if (farm) await step('stopping the farm', () => farm.stop());
      await step('farm keys', () => removePrefix(o.redisUrl, o.prefix, Object.values(QUEUE_NAMES)));
      for (const [what, fn] of o.extra ?? []) await step(what, fn);
      rmSync(o.tmp, { recursive: true, force: true });
      if (o.keep) o.say(`kept the farm's home (logs, storage) at ${o.home}`);
      else rmSync(o.home, { recursive: true, force: true });
    })());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      o.say(`${signal}: cleaning up`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  return cleanup;
}
