/**
 * The shapes the console's pages read, shared by the API that builds them and the page scripts
 * that draw them (type-only: nothing here runs).
 */
import type { GpuReading, WorkerCapabilities } from '../capabilities/worker-capabilities.js';
import type { ChannelMetrics } from '../jobs/live/channel-metrics.js';

export type { ChannelMetrics, GpuReading, WorkerCapabilities };

export interface Overview {
  at: string;
  role: 'operator' | 'tenant';
  tenant: string;
  jobs: { queued: number; running: number; paused: number };
  last_hour: { succeeded: number; failed: number; canceled: number; wait_p50_s: number | null; wait_p95_s: number | null };
  /** Jobs ended per minute over the last hour (oldest first), for the throughput chart. */
  throughput: Array<{ minute: string; succeeded: number; failed: number }>;
  failures: Array<{ id: string; kind: string; name: string | null; code: string | null; message: string | null; completed_at: string }>;
  queues?: Array<{ name: string; counts: Record<string, number> }>;
  workers?: { up: number; lost: number; gpus: number; gpu_util_avg: number | null; cpu_only: number };
}

export interface WorkerView {
  id: string;
  hostname: string;
  pid: number;
  status: 'up' | 'lost' | 'stopped';
  kinds: string[];
  current_jobs: string[];
  gpus: GpuReading[];
  capabilities: WorkerCapabilities;
  started_at: string;
  last_heartbeat_at: string | null;
  stopped_at: string | null;
}

/**
 * A live channel as GET /v1/live/channels gives it, as far as the Live page reads it. The stream
 * (console-data.ts) assigns the service's view to this type, so tsc reports any drift between them.
 */
export interface LiveChannelView {
  id: string;
  name: string | null;
  status: 'idle' | 'live' | 'ended';
  rungs: Array<{ name: string; width: number; height: number; bitrate: number; passthrough: boolean }> | null;
  segment_duration: number;
  window_size: number;
  deadline_factor: number;
  ingest_url: string;
  playback_url: string;
  metrics: ChannelMetrics;
  /** Why no segment can be encoded now (no worker that takes live segments is up), or null. */
  waiting_for_worker: string | null;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
}
