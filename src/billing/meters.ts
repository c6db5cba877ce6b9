/**
 * The meters: what the farm measures and can price. A usage event (compute seconds plus the
 * extras a kind measured) becomes quantities of these meters, each with its dimensions.
 */
import type { ExtraMeters } from '../db/schema.js';

export const METERS = {
  gpu_seconds: { unit: 'GPU-second', description: 'GPU time, by GPU model' },
  cpu_seconds: { unit: 'CPU-second', description: 'CPU time (user + system) of the processes that did the work' },
  output_minutes: { unit: 'output minute', description: 'transcoded output, per rendition, by resolution class and codec' },
  frames_rendered: { unit: 'frame', description: 'frames rendered' },
  predictions: { unit: 'prediction', description: 'predictions run' },
  predict_seconds: { unit: 'second', description: "time in the model (Replicate's predict_time)" },
  live_channel_hours: { unit: 'channel-hour', description: 'live channels on air' },
  storage_gb_days: { unit: 'GB-day', description: 'stored files, GB (10^9 bytes) per day' },
} as const;

export type Meter = keyof typeof METERS;
export const METER_NAMES = Object.keys(METERS) as Meter[];
export const isMeter = (m: string): m is Meter => m in METERS;

/** Resolution classes of output minutes, by rendition height, as cloud transcoders price them. */
export const RESOLUTION_CLASSES = ['SD', 'HD', 'UHD', '8K'] as const;
export type ResolutionClass = (typeof RESOLUTION_CLASSES)[number];

export function resolutionClass(height: number): ResolutionClass {
  if (height < 720) return 'SD';
  if (height <= 1080) return 'HD';
  if (height <= 2160) return 'UHD';
  return '8K';
}

export interface Dimensions {
  gpuModel: string | null;
  resolution: string | null;
  codec: string | null;
}

export interface MeterQuantity extends Dimensions {
  meter: Meter;
  quantity: number;
}

export interface MeasuredUsage {
  cpuSeconds: number;
  gpuSeconds: number;
  gpuModel: string;
  meters: ExtraMeters;
}

const NO_DIMENSIONS: Dimensions = { gpuModel: null, resolution: null, codec: null };

/** The meter quantities in one usage event; zero quantities are left out. */
export function quantitiesOf(u: MeasuredUsage): MeterQuantity[] {
  const out: MeterQuantity[] = [];
  const add = (meter: Meter, quantity: number | undefined, dims: Partial<Dimensions> = {}) => {
    if (quantity !== undefined && Number.isFinite(quantity) && quantity > 0) out.push({ meter, quantity, ...NO_DIMENSIONS, ...dims });
  };
  add('gpu_seconds', u.gpuSeconds, { gpuModel: u.gpuModel });
  add('cpu_seconds', u.cpuSeconds);
  const minutes = new Map<string, MeterQuantity>();
  for (const r of u.meters.renditions ?? []) {
    const resolution = resolutionClass(r.height);
    const key = `${resolution}/${r.codec}`;
    const q = minutes.get(key) ?? { meter: 'output_minutes' as const, quantity: 0, ...NO_DIMENSIONS, resolution, codec: r.codec };
    q.quantity += r.seconds / 60;
    minutes.set(key, q);
  }
  for (const q of minutes.values()) add(q.meter, q.quantity, q);
  add('frames_rendered', u.meters.framesRendered);
  add('predictions', u.meters.predictions);
  add('predict_seconds', u.meters.predictSeconds);
  add('live_channel_hours', u.meters.channelHours);
  return out;
}
