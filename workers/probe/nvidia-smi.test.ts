import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { GpuReading } from '../../src/capabilities/worker-capabilities.js';
import {
  NVIDIA_SMI_CSV_ARGS,
  NVIDIA_SMI_XML_ARGS,
  parseNvidiaSmiCsv,
  parseNvidiaSmiXml,
  readGpus,
  type CommandResult,
  type RunCommand,
} from './nvidia-smi.js';

// The recordings live in the shared assets: beside the checkout, or inside it on machines that
// carry shared/ along with the working tree.
const ASSET_DIRS = ['../../shared/assets/nvidia-smi/', '../../../shared/assets/nvidia-smi/'].map(
  (rel) => fileURLToPath(new URL(rel, import.meta.url)),
);
const assetDir = ASSET_DIRS.find((dir) => existsSync(dir)) ?? ASSET_DIRS[1]!;
const recorded = (file: string): string => readFileSync(assetDir + file, 'utf8');

const RECORDINGS = [
  'a100-sxm4-v12.xml',
  'a10g.xml',
  'gtx-1660-ti.xml',
  'quadro-p2000-v12.xml',
  'rtx-3080-v13.xml',
  'rtx-4000-sff-ada-v13.xml',
  'tesla-t4.xml',
];

const TESLA_T4: GpuReading = {
  index: 0,
  uuid: 'GPU-d37e67a5-91dd-3774-a5cb-99096249601a',
  name: 'Tesla T4',
  memoryTotalMiB: 15360,
  memoryUsedMiB: 1032,
  utilizationGpuPercent: 0,
  utilizationEncoderPercent: 0,
  utilizationDecoderPercent: 0,
  temperatureC: 40,
  powerDrawW: 26.78,
  driverVersion: '515.105.01',
  cudaVersion: '11.7',
};

/** The A100 recording, in MIG mode: utilisation N/A (null), memory of the whole card. */
const A100_MIG = {
  index: 0,
  uuid: 'GPU-513536b6-7d19-9063-b049-1e69664bb298',
  name: 'NVIDIA A100-SXM4-80GB',
  memoryTotalMiB: 81920,
  memoryUsedMiB: 50,
  utilizationGpuPercent: null,
  utilizationEncoderPercent: null,
  utilizationDecoderPercent: null,
  temperatureC: 27,
  powerDrawW: 67.03, // gpu_power_readings/power_draw (schema v12)
  driverVersion: '535.54.03',
  cudaVersion: '12.2',
};

describe('parseNvidiaSmiXml', () => {
  it.each(RECORDINGS)('reads one GPU with finite numbers from %s', (file) => {
    const gpus = parseNvidiaSmiXml(recorded(file));
    expect(gpus).toHaveLength(1);
    for (const value of Object.values(gpus[0]!)) {
      if (typeof value === 'number') expect(Number.isFinite(value)).toBe(true);
    }
  });

  it('reads the Tesla T4 (power under power_readings, driver 515)', () => {
    expect(parseNvidiaSmiXml(recorded('tesla-t4.xml'))).toEqual([TESLA_T4]);
  });

  it('reads the A100 in MIG mode: N/A utilisation is null, memory is the whole card, not a MIG slice', () => {
    // Index 0 although its minor_number is 1: the index is the document order.
    expect(parseNvidiaSmiXml(recorded('a100-sxm4-v12.xml'))).toEqual([A100_MIG]);
  });

  it('reads the RTX 3080 on schema v13, where power is average_power_draw', () => {
    expect(parseNvidiaSmiXml(recorded('rtx-3080-v13.xml'))).toEqual([
      {
        index: 0,
        uuid: 'GPU-19d6d965-2acc-f646-00f8-4c76979aabb4',
        name: 'NVIDIA GeForce RTX 3080',
        memoryTotalMiB: 10240,
        memoryUsedMiB: 9184,
        utilizationGpuPercent: 65,
        utilizationEncoderPercent: 0,
        utilizationDecoderPercent: 0,
        temperatureC: 27,
        powerDrawW: 139.62,
        driverVersion: '595.58.03',
        cudaVersion: '13.2',
      },
    ]);
  });

  it('reads the RTX 4000 SFF Ada, the Quadro P2000, the A10G and the GTX 1660 Ti', () => {
    expect(parseNvidiaSmiXml(recorded('rtx-4000-sff-ada-v13.xml'))[0]).toMatchObject({
      uuid: 'GPU-37037c3f-65c8-ec4d-24a9-420204ad8026',
      name: 'NVIDIA RTX 4000 SFF Ada Generation',
      memoryTotalMiB: 20475,
      memoryUsedMiB: 3534,
      temperatureC: 38,
      powerDrawW: 8.81,
      driverVersion: '595.84',
      cudaVersion: '13.2',
    });
    expect(parseNvidiaSmiXml(recorded('quadro-p2000-v12.xml'))[0]).toMatchObject({
      uuid: 'GPU-396caaed-39ca-3199-2e68-717cdb786ec6',
      name: 'Quadro P2000',
      memoryTotalMiB: 5120,
      memoryUsedMiB: 1,
      utilizationEncoderPercent: 0,
      temperatureC: 34,
      powerDrawW: 4.61,
      driverVersion: '525.125.06',
      cudaVersion: '12.0',
    });
    expect(parseNvidiaSmiXml(recorded('a10g.xml'))[0]).toMatchObject({
      uuid: 'GPU-9a9a6c50-2a47-2f51-a902-b82c3b127e94',
      name: 'NVIDIA A10G',
      memoryTotalMiB: 23028,
      memoryUsedMiB: 22,
      temperatureC: 17,
      powerDrawW: 25.58,
      driverVersion: '515.105.01',
    });
    // Driver 418 did not know the card's marketing name yet.
    expect(parseNvidiaSmiXml(recorded('gtx-1660-ti.xml'))[0]).toMatchObject({
      name: 'Graphics Device',
      memoryTotalMiB: 5912,
      temperatureC: 40,
      powerDrawW: 8.93,
      cudaVersion: '10.1',
    });
  });

  it('numbers several GPUs in document order', () => {
    // None of the recordings has two <gpu> elements: splice a second one in after the T4's.
    const xml = recorded('tesla-t4.xml');
    const block = xml.slice(xml.indexOf('<gpu id='), xml.indexOf('</gpu>') + '</gpu>'.length);
    const second = block.replace(TESLA_T4.uuid, 'GPU-00000000-0000-0000-0000-000000000002');
    const gpus = parseNvidiaSmiXml(xml.replace(block, `${block}\n${second}`));
    expect(gpus.map((gpu) => [gpu.index, gpu.uuid])).toEqual([
      [0, TESLA_T4.uuid],
      [1, 'GPU-00000000-0000-0000-0000-000000000002'],
    ]);
  });

  it('turns N/A, [N/A], Not Supported and deprecated readings into null, never NaN', () => {
    const xml = recorded('tesla-t4.xml')
      .replace('<gpu_util>0 %</gpu_util>', '<gpu_util>[N/A]</gpu_util>')
      .replace('<encoder_util>0 %</encoder_util>', '<encoder_util>Not Supported</encoder_util>')
      .replace('<decoder_util>0 %</decoder_util>', '<decoder_util>[Not Supported]</decoder_util>')
      .replace('<gpu_temp>40 C</gpu_temp>', '<gpu_temp>N/A</gpu_temp>')
      .replace('<power_draw>26.78 W</power_draw>', '<power_draw>Unknown Error</power_draw>')
      .replace('<cuda_version>11.7</cuda_version>', '<cuda_version>N/A</cuda_version>');
    expect(parseNvidiaSmiXml(xml)).toEqual([
      {
        ...TESLA_T4,
        utilizationGpuPercent: null,
        utilizationEncoderPercent: null,
        utilizationDecoderPercent: null,
        temperatureC: null,
        powerDrawW: null,
        cudaVersion: null,
      },
    ]);
  });

  it('throws on output that is not nvidia-smi XML', () => {
    expect(() => parseNvidiaSmiXml('<nvidia_smi_log><gpu id="1">')).toThrow(/malformed XML/);
    expect(() => parseNvidiaSmiXml('<html></html>')).toThrow(/nvidia_smi_log/);
  });
});

// Written by hand from the values in tesla-t4.xml and a100-sxm4-v12.xml (no CSV was recorded),
// in the format `--format=csv,noheader,nounits` prints: ", " between fields, [N/A] when unknown.
const CSV =
  '0, GPU-d37e67a5-91dd-3774-a5cb-99096249601a, Tesla T4, 15360, 1032, 0, 0, 0, 40, 26.78, 515.105.01\n' +
  '1, GPU-513536b6-7d19-9063-b049-1e69664bb298, NVIDIA A100-SXM4-80GB, 81920, 50, [N/A], [N/A], [Not Supported], 27, 67.03, 535.54.03\n';

describe('parseNvidiaSmiCsv', () => {
  it('reads every line, unknown readings as null, and has no CUDA version', () => {
    expect(parseNvidiaSmiCsv(CSV)).toEqual([
      { ...TESLA_T4, cudaVersion: null },
      { ...A100_MIG, index: 1, cudaVersion: null },
    ]);
  });

  it('throws on a line with the wrong number of fields', () => {
    expect(() => parseNvidiaSmiCsv('0, GPU-x, Tesla T4\n')).toThrow(/3 fields, expected 11/);
  });
});

/** A strict fake: answers only the commands it was given, in any order, and records the calls. */
function fakeRunner(answers: Record<string, CommandResult>): RunCommand & { calls: string[] } {
  const calls: string[] = [];
  const run = async (cmd: string, args: string[]): Promise<CommandResult> => {
    const key = [cmd, ...args].join(' ');
    calls.push(key);
    const answer = answers[key];
    if (answer === undefined) throw new Error(`unexpected command: ${key}`);
    return answer;
  };
  return Object.assign(run, { calls });
}

const XML_CMD = ['nvidia-smi', ...NVIDIA_SMI_XML_ARGS].join(' ');
const CSV_CMD = ['nvidia-smi', ...NVIDIA_SMI_CSV_ARGS].join(' ');
const ok = (stdout: string): CommandResult => ({ code: 0, stdout, stderr: '' });

describe('readGpus', () => {
  it('says there is no GPU when nvidia-smi is missing', async () => {
    const run = fakeRunner({ [XML_CMD]: { code: 127, stdout: '', stderr: 'spawn nvidia-smi ENOENT' } });
    expect(await readGpus(run)).toEqual({ gpus: [], note: 'nvidia-smi not found: no GPU on this host' });
  });

  it('reports the first line nvidia-smi printed when it fails', async () => {
    const run = fakeRunner({
      [XML_CMD]: {
        code: 9,
        stdout:
          "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\nMake sure that the latest NVIDIA driver is installed and running.\n",
        stderr: '',
      },
    });
    expect(await readGpus(run)).toEqual({
      gpus: [],
      note: "nvidia-smi -q -x failed (exit 9): NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
    });
  });

  it('reads the XML and does not run the CSV query when the XML is fine', async () => {
    const run = fakeRunner({ [XML_CMD]: ok(recorded('tesla-t4.xml')) });
    expect(await readGpus(run)).toEqual({ gpus: [TESLA_T4], note: null });
    expect(run.calls).toEqual([XML_CMD]);
  });

  it('falls back to the CSV query when the XML is garbage, and says so', async () => {
    const run = fakeRunner({ [XML_CMD]: ok('<nvidia_smi_log><gpu>'), [CSV_CMD]: ok(CSV) });
    const result = await readGpus(run);
    expect(result.gpus.map((gpu) => gpu.name)).toEqual(['Tesla T4', 'NVIDIA A100-SXM4-80GB']);
    expect(result.note).toMatch(/^nvidia-smi XML unreadable \(malformed XML: .*\); read its CSV query instead$/);
    expect(run.calls).toEqual([XML_CMD, CSV_CMD]);
  });

  it('keeps only the pinned GPU when it exists', async () => {
    const run = fakeRunner({ [XML_CMD]: ok('not xml'), [CSV_CMD]: ok(CSV) });
    const result = await readGpus(run, 1);
    expect(result.gpus.map((gpu) => gpu.uuid)).toEqual(['GPU-513536b6-7d19-9063-b049-1e69664bb298']);
  });

  it('returns no GPU and names the ones that exist when the pinned one does not', async () => {
    const run = fakeRunner({ [XML_CMD]: ok('not xml'), [CSV_CMD]: ok(CSV) });
    expect(await readGpus(run, 3)).toEqual({
      gpus: [],
      note: 'GPU 3 was pinned but nvidia-smi lists only GPU(s) 0, 1',
    });
  });

  it('never throws when the runner does', async () => {
    const run = fakeRunner({});
    expect(await readGpus(run)).toEqual({
      gpus: [],
      note: `nvidia-smi -q -x failed (exit -1): unexpected command: ${XML_CMD}`,
    });
  });
});
