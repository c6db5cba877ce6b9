/** ioredis connections as BullMQ wants them. */
import { Redis } from 'ioredis';

/** For BullMQ workers and blocking commands: `maxRetriesPerRequest: null`, so a Redis blip waits instead of failing jobs. */
export function redisConnection(url: string, name: string): Redis {
  const connection = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, connectionName: name, lazyConnect: false });
  // ioredis reconnects by itself and the commands that matter fail loudly where they are awaited;
  // without a listener every reconnect attempt would print "Unhandled error event".
  connection.on('error', () => {});
  return connection;
}
