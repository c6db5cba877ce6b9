/** A charge line in words, as an accountant reads it on an invoice. */
import { isMeter, METERS } from './meters.js';

const LABELS: Record<keyof typeof METERS, string> = {
  gpu_seconds: 'GPU time',
  cpu_seconds: 'CPU time',
  output_minutes: 'Transcoded output',
  frames_rendered: 'Frames rendered',
  predictions: 'Predictions',
  predict_seconds: 'Prediction time',
  live_channel_hours: 'Live channel time',
  storage_gb_days: 'Storage',
};

export function describeLine(meter: string, dims: { gpuModel: string | null; resolution: string | null; codec: string | null }): string {
  const label = isMeter(meter) ? LABELS[meter] : meter;
  const detail = [dims.gpuModel, dims.resolution, dims.codec].filter((d): d is string => d !== null && d !== '');
  return detail.length ? `${label} — ${detail.join(' ')}` : label;
}
