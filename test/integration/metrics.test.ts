/**
 * /metrics: GPU gauges under the DCGM exporter's names and labels (from a worker's heartbeat
 * carrying a real recorded nvidia-smi reading), queue depths, jobs by status, fallbacks counted.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseNvidiaSmiXml } from '../../workers/probe/nvidia-smi.js';
import { apiHarness, type Harness } from '../helpers/api-harness.js';
import { seedMetricsFarm } from '../helpers/metrics-farm.js';
import { ASSETS } from '../helpers/test-env.js';

/**
 * Step-down records as the workers write them: a transcode keeps ffmpeg's line in `error` (its
 * `reason` is why the path was planned, naming the GPU); an ONNX provider keeps its failure in `reason`.
 */
const planned = 'fallback if NVENC fails: Tesla T4 decodes h264 and scales, the CPU encodes H.264';
const FALLBACKS = [
  { path: 'nvdec-nvenc', reason: planned, error: '[h264_nvenc] OpenEncodeSessionEx failed: out of memory (10): (no details)' },
  { path: 'nvdec-nvenc', reason: planned, error: '[hevc_nvenc] OpenEncodeSessionEx failed: incompatible client key (21): (no details)' },
  { path: 'nvdec-cpu', reason: planned, error: '[AVHWDeviceContext] Cannot load libcuda.so.1' },
  { path: 'nvdec-cpu', reason: planned, error: 'Conversion failed!' },
  { path: 'onnx-cuda', reason: 'libonnxruntime_providers_cuda.so not found' },
  { path: 'onnx-tensorrt', reason: 'CUDA failure 2: out of memory ; GPU=0' },
];

let h: Harness;
beforeAll(async () => {
  h = await apiHarness();
});
afterAll(() => h?.close());

it('exposes GPUs as DCGM metrics, queues, jobs and fallbacks in Prometheus text', async () => {
  const gpus = parseNvidiaSmiXml(readFileSync(path.join(ASSETS, 'nvidia-smi/tesla-t4.xml'), 'utf8'));
  await seedMetricsFarm(h, { hostname: 'gpu-host-1', gpus, fallbacks: FALLBACKS });

  const res = await h.app.request('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  const text = await res.text();
  const t4 = gpus[0]!;
  const labels = `gpu="0",UUID="${t4.uuid}",modelName="${t4.name}",Hostname="gpu-host-1"`;
  expect(text).toContain('# TYPE DCGM_FI_DEV_GPU_UTIL gauge');
  expect(text).toContain(`DCGM_FI_DEV_FB_USED{${labels}} ${t4.memoryUsedMiB}`);
  expect(text).toContain(`DCGM_FI_DEV_GPU_TEMP{${labels}} ${t4.temperatureC}`);
  expect(text).toContain('malan_workers_up{Hostname="gpu-host-1"} 1');
  // Both jobs still wait in Redis (no worker ran here; the first one's end was reported by hand).
  expect(text).toContain('malan_queue_jobs{queue="transcode",state="prioritized"} 2');
  expect(text).toContain('malan_jobs{kind="transcode",status="succeeded"} 1');
  expect(text).toContain('malan_jobs{kind="transcode",status="queued"} 1');
  // Fallbacks by the path that failed and a reason class: never the recorded text, which names GPUs and files.
  const fallbacks = text.split('\n').filter((l) => l.startsWith('malan_fallbacks_total{'));
  expect(fallbacks.sort()).toEqual([
    'malan_fallbacks_total{path="nvdec-cpu",reason="gpu_unavailable"} 1',
    'malan_fallbacks_total{path="nvdec-cpu",reason="other"} 1',
    'malan_fallbacks_total{path="nvdec-nvenc",reason="encoder_sessions"} 2',
    'malan_fallbacks_total{path="onnx-cuda",reason="gpu_unavailable"} 1',
    'malan_fallbacks_total{path="onnx-tensorrt",reason="out_of_memory"} 1',
  ]);
  // The ledger: 1 CPU-second billed to the tenant, at the default 0.0001 a second.
  expect(text).toContain('malan_billed_quantity_total{meter="cpu_seconds",billed_to="tenant",gpu_model=""} 1');
  expect(text).toContain('malan_billed_amount_total{billed_to="tenant",currency="USD"} 0.0001');
  // The ended job's wait and run, as histograms by kind: one job, counted in the +Inf bucket and the count.
  expect(text).toContain('# TYPE malan_job_wait_seconds histogram');
  expect(text).toContain('malan_job_run_seconds_bucket{kind="transcode",le="+Inf"} 1');
  expect(text).toContain('malan_job_wait_seconds_count{kind="transcode"} 1');
  // API requests by route pattern (never an id) and status, with durations.
  expect(text).toMatch(/malan_http_requests_total\{method="POST",route="\/v1\/jobs",status="201"\} 2/);
  expect(text).toMatch(/malan_http_request_duration_seconds_bucket\{method="POST",route="\/v1\/jobs",status="201",le="\+Inf"\} 2/);
  expect(text).not.toMatch(/route="[^"]*job_/);
  // Every sample line is a name, optional labels and a number.
  for (const line of text.trim().split('\n').filter((l) => !l.startsWith('#'))) expect(line).toMatch(/^[a-zA-Z_:][\w:]*(\{.*\})? -?[\d.e+-]+$/);
});
