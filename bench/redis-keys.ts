/** Removes what the bench left in the shared Redis: its queues (obliterated), then any other key under its prefixes. */
import { Queue } from 'bullmq';
import { redisConnection } from '../src/queue/redis.js';

export async function removePrefix(redisUrl: string, prefix: string, queueNames: readonly string[]): Promise<number> {
  const connection = redisConnection(redisUrl, `malan-bench-cleanup`);
  try {
    for (const name of queueNames) {
      const queue = new Queue(name, { connection, prefix });
      await queue.obliterate({ force: true });
      await queue.close();
    }
    // Heartbeats, cancel markers, emptied queue meta: whatever else carries the prefix. The
    // prefixes are random per run, so nothing of anyone else's matches.
    let removed = 0;
    let cursor = '0';
    do {
      const [next, keys] = await connection.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) removed += await connection.unlink(...keys);
    } while (cursor !== '0');
    return removed;
  } finally {
    connection.disconnect();
  }
}
