/** The shapes the console reads: the console's own from the API's definitions, the public job shape as far as the pages use it. */
import type { GpuReading, LiveChannelView, Overview, WorkerView } from '../console-shapes.js';

export type { Overview };
export type Me = Pick<Overview, 'role' | 'tenant'>;
export type Gpu = GpuReading;
export type Worker = WorkerView;
export type LiveChannel = LiveChannelView;
export interface JobOutput {
  name?: string;
  file: string;
  url: string;
  playback_url?: string;
  content_type?: string;
  size?: number;
  bytes?: number;
}

export interface Job {
  id: string;
  kind: string;
  name: string | null;
  status: 'queued' | 'running' | 'paused' | 'succeeded' | 'failed' | 'canceled';
  progress: number;
  input: unknown;
  outputs: JobOutput[];
  usage: { wall_seconds: number; cpu_seconds: number; gpu_seconds: number; gpu_model: string | null };
  error: { code: string; message: string } | null;
  execution: { path?: string; fallbacks?: Array<{ path: string; reason?: string; error?: string }>; worker?: string } | null;
  attempts: number;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  render?: { frames?: { total: number; done: number }; tasks?: Array<{ index: number; status: string; frames: string }> };
}

export interface JobPage {
  results: Job[];
  next_cursor: string | null;
}

export interface UsageRow {
  day?: string;
  tenant?: string;
  meter: string;
  unit: string;
  quantity: number;
  amount: string;
  amount_micros: number;
  [k: string]: unknown;
}
