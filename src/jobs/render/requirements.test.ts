import { describe, expect, it } from 'vitest';
import type { GpuReading } from '../../capabilities/worker-capabilities.js';
import { unmet } from './requirements.js';

const gpu = (name: string, memoryTotalMiB: number, index = 0): GpuReading => ({
  index, uuid: `GPU-${index}`, name, memoryTotalMiB, memoryUsedMiB: 0, utilizationGpuPercent: null, utilizationEncoderPercent: null,
  utilizationDecoderPercent: null, temperatureC: null, powerDrawW: null, driverVersion: null, cudaVersion: null,
});

describe('unmet: which tasks a worker may take', () => {
  const h100 = { gpus: [gpu('NVIDIA H100 80GB HBM3', 81_559)] };
  const twoL4 = { gpus: [gpu('NVIDIA L4', 23_034, 0), gpu('NVIDIA L4', 23_034, 1)] };
  const cpu = { gpus: [] };

  it('takes a task without requirements anywhere', () => {
    expect(unmet({}, cpu, [])).toBeNull();
    expect(unmet({}, h100, [])).toBeNull();
  });

  it('matches GPU count, VRAM and model', () => {
    expect(unmet({ gpus: 1 }, cpu, [])).toMatch(/needs 1 GPU\(s\); this worker has 0/);
    expect(unmet({ gpus: 2 }, twoL4, [])).toBeNull();
    expect(unmet({ gpus: 2 }, h100, [])).toMatch(/needs 2 GPU/);
    expect(unmet({ min_vram_mb: 40_000 }, twoL4, [])).toMatch(/≥ 40000 MiB/);
    expect(unmet({ min_vram_mb: 40_000 }, h100, [])).toBeNull();
    expect(unmet({ gpu_model: 'h100' }, h100, [])).toBeNull();
    expect(unmet({ gpu_model: 'H100' }, twoL4, [])).toMatch(/of model H100/);
    // Two GPUs with enough memory each, not one big and one small.
    expect(unmet({ gpus: 2, min_vram_mb: 20_000 }, twoL4, [])).toBeNull();
    expect(unmet({ gpus: 2, min_vram_mb: 30_000 }, { gpus: [gpu('NVIDIA H100 80GB HBM3', 81_559), gpu('NVIDIA L4', 23_034, 1)] }, [])).toMatch(/needs 2 GPU/);
  });

  it('matches tags', () => {
    expect(unmet({ tags: ['studio-a'] }, cpu, ['studio-a', 'fast-disk'])).toBeNull();
    expect(unmet({ tags: ['studio-a', 'gpu-pool'] }, cpu, ['studio-a'])).toMatch(/tags gpu-pool/);
  });
});
