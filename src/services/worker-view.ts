/** Workers as operators see them: what each registered, merged with its live heartbeat. */
import { desc } from 'drizzle-orm';
import { workers } from '../db/schema.js';
import type { GpuReading, WorkerCapabilities } from '../capabilities/worker-capabilities.js';
import type { WorkerView } from '../console/console-shapes.js';
import { channels } from '../queue/messages.js';
import type { FarmContext } from './farm-context.js';


export async function listWorkers(ctx: FarmContext, limit = 500): Promise<WorkerView[]> {
  const rows = await ctx.db.select().from(workers).orderBy(desc(workers.startedAt)).limit(limit);
  const prefix = ctx.config.MALAN_QUEUE_PREFIX;
  const beats = rows.length ? await ctx.redis.mget(...rows.map((w) => channels.workerHeartbeat(prefix, w.id))) : [];
  return rows.map((w, i) => {
    const beat = beats[i] ? (JSON.parse(beats[i]!) as { jobs: string[]; gpus: GpuReading[]; at: string }) : null;
    // Registered "up" but no heartbeat for 15 s: the process is gone without saying so.
    const status = w.status === 'stopped' ? 'stopped' : beat ? 'up' : 'lost';
    return {
      id: w.id,
      hostname: w.hostname,
      pid: w.pid,
      status,
      kinds: w.kinds,
      current_jobs: beat?.jobs ?? [],
      gpus: beat?.gpus ?? (w.capabilities as WorkerCapabilities).gpus ?? [],
      capabilities: w.capabilities as WorkerCapabilities,
      started_at: w.startedAt.toISOString(),
      last_heartbeat_at: beat?.at ?? null,
      stopped_at: w.stoppedAt?.toISOString() ?? null,
    };
  });
}
