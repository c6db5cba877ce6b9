/** A live channel's figures as the API shows them (built in src/services/live-metrics.ts; read by the console too). */
export interface ChannelMetrics {
  segments: { published: number; gaps: number; pending: number; late_discarded: number };
  deadline_misses: number;
  gaps_by_reason: Record<string, number>;
  latency_seconds: { p50: number | null; p95: number | null; p99: number | null };
  queue_wait_seconds: { p50: number | null; p95: number | null };
  realtime_factor: Record<string, { p50: number; max: number }>;
}
