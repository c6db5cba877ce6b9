/** ioredis connections as BullMQ wants them. */
import { Redis } from 'ioredis';

/** For BullMQ workers and blocking commands: `maxRetriesPerRequest: null`, so a Redis blip waits instead of failing jobs. */
export function redisConnection(url: string, name: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, connectionName: name, lazyConnect: false });
}
