/**
 * Which NVIDIA GPUs this host has, read from nvidia-smi once at worker start. The parsers are pure
 * so that every driver generation we have a recording of is a unit test; the only I/O goes through
 * the injected runner. `-q -x` is read first because it carries the CUDA version and survives
 * schema changes by name; the CSV query is the fallback when the XML cannot be read.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { GpuReading } from '../../src/capabilities/worker-capabilities.js';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion. A missing binary must come back as code 127, as a shell says it. */
export type RunCommand = (cmd: string, args: string[]) => Promise<CommandResult>;

export const NVIDIA_SMI_XML_ARGS: string[] = ['-q', '-x'];

export const NVIDIA_SMI_CSV_ARGS: string[] = [
  '--query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu,utilization.encoder,' +
    'utilization.decoder,temperature.gpu,power.draw,driver_version',
  '--format=csv,noheader,nounits',
];

/** Values nvidia-smi prints instead of a reading, with or without brackets (CSV brackets them). */
const NO_READING =
  /^\[?(N\/A|Not Supported|Unknown Error|Insufficient Permissions|Requested functionality has been deprecated)\]?$/i;

/** "15360 MiB", "45 %", "70.12 W", "34 C", or a bare number (CSV with nounits). */
const MEASURE = /^(-?\d+(?:\.\d+)?)\s*(?:[A-Za-z%]+)?$/;

function text(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const trimmed = value.trim();
  return trimmed === '' || NO_READING.test(trimmed) ? null : trimmed;
}

function measure(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const match = MEASURE.exec(value.trim());
  return match ? Number(match[1]) : null;
}

function firstMeasure(...values: unknown[]): number | null {
  for (const value of values) {
    const n = measure(value);
    if (n !== null) return n;
  }
  return null;
}

function at(node: unknown, ...path: string[]): unknown {
  let current = node;
  for (const key of path) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function readXmlGpu(
  gpu: unknown,
  index: number,
  driverVersion: string | null,
  cudaVersion: string | null,
): GpuReading {
  const uuid = text(at(gpu, 'uuid'));
  const name = text(at(gpu, 'product_name'));
  if (uuid === null || name === null) {
    throw new Error(`GPU ${index} in nvidia-smi XML has no uuid or product_name`);
  }
  return {
    index,
    uuid,
    name,
    // Only the direct child counts: MIG devices nest their own fb_memory_usage inside <mig_devices>.
    // The type has no null for memory; a GPU that reports none (unified memory) reads as 0 MiB.
    memoryTotalMiB: measure(at(gpu, 'fb_memory_usage', 'total')) ?? 0,
    memoryUsedMiB: measure(at(gpu, 'fb_memory_usage', 'used')) ?? 0,
    utilizationGpuPercent: measure(at(gpu, 'utilization', 'gpu_util')),
    utilizationEncoderPercent: measure(at(gpu, 'utilization', 'encoder_util')),
    utilizationDecoderPercent: measure(at(gpu, 'utilization', 'decoder_util')),
    temperatureC: measure(at(gpu, 'temperature', 'gpu_temp')),
    // Schema v12 has gpu_power_readings/power_draw, v13 splits it into average and instant (the
    // average is what `--query-gpu=power.draw` reports on Ampere and newer), drivers before 530
    // have power_readings/power_draw.
    powerDrawW: firstMeasure(
      at(gpu, 'gpu_power_readings', 'power_draw'),
      at(gpu, 'gpu_power_readings', 'average_power_draw'),
      at(gpu, 'gpu_power_readings', 'instant_power_draw'),
      at(gpu, 'power_readings', 'power_draw'),
    ),
    driverVersion,
    cudaVersion,
  };
}

/**
 * Parses `nvidia-smi -q -x`. The index is the position in the document, which is nvidia-smi's
 * own index (PCI bus order); `minor_number` is the /dev/nvidiaN number and can differ from it.
 * CUDA (and so ffmpeg's `-gpu N`) numbers GPUs the same way only with CUDA_DEVICE_ORDER=PCI_BUS_ID.
 */
export function parseNvidiaSmiXml(xml: string): GpuReading[] {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new Error(`malformed XML: ${valid.err.msg} (line ${valid.err.line})`);
  }
  const doc: unknown = new XMLParser({ ignoreAttributes: true, parseTagValue: false }).parse(xml);
  const log = at(doc, 'nvidia_smi_log');
  if (log === undefined) throw new Error('no <nvidia_smi_log> root element');
  const driverVersion = text(at(log, 'driver_version'));
  const cudaVersion = text(at(log, 'cuda_version'));
  const gpus = at(log, 'gpu');
  const list = gpus === undefined ? [] : Array.isArray(gpus) ? gpus : [gpus];
  return list.map((gpu, index) => readXmlGpu(gpu, index, driverVersion, cudaVersion));
}

const CSV_FIELDS = 11;

/** Parses the output of `nvidia-smi` run with NVIDIA_SMI_CSV_ARGS. It has no CUDA version. */
export function parseNvidiaSmiCsv(csv: string): GpuReading[] {
  const lines = csv.split(/\r?\n/).filter((line) => line.trim() !== '');
  return lines.map((line, row) => {
    // GPU product names contain no commas, so a plain split is safe for this field list.
    const fields = line.split(',').map((field) => field.trim());
    if (fields.length !== CSV_FIELDS) {
      throw new Error(`CSV line ${row + 1} has ${fields.length} fields, expected ${CSV_FIELDS}`);
    }
    const field = (i: number): string => fields[i] ?? '';
    const index = Number(field(0));
    const uuid = text(field(1));
    const name = text(field(2));
    if (!Number.isInteger(index) || field(0) === '' || uuid === null || name === null) {
      throw new Error(`CSV line ${row + 1} has no index, uuid or name: ${line}`);
    }
    return {
      index,
      uuid,
      name,
      memoryTotalMiB: measure(field(3)) ?? 0,
      memoryUsedMiB: measure(field(4)) ?? 0,
      utilizationGpuPercent: measure(field(5)),
      utilizationEncoderPercent: measure(field(6)),
      utilizationDecoderPercent: measure(field(7)),
      temperatureC: measure(field(8)),
      powerDrawW: measure(field(9)),
      driverVersion: text(field(10)),
      cudaVersion: null,
    };
  });
}

/**
 * The line to show an operator when a command failed: the first non-empty line of stderr, else of
 * stdout (nvidia-smi prints "NVIDIA-SMI has failed because…" on stdout). ffmpeg's `@ 0x55d…`
 * context addresses are dropped so the same failure reads the same on every start.
 */
export function firstOutputLine(result: CommandResult): string {
  for (const stream of [result.stderr, result.stdout]) {
    const line = stream.split(/\r?\n/).find((l) => l.trim() !== '');
    if (line !== undefined) return line.trim().replace(/ @ 0x[0-9a-f]+\]/gi, ']');
  }
  return `exit code ${result.code}, no output`;
}

/** Calls the runner, turning a thrown error into a failed result so probing never throws. */
export async function runCatching(run: RunCommand, cmd: string, args: string[]): Promise<CommandResult> {
  try {
    return await run(cmd, args);
  } catch (err) {
    return { code: -1, stdout: '', stderr: err instanceof Error ? err.message : String(err) };
  }
}

interface GpuList {
  gpus: GpuReading[];
  note: string | null;
}

function listed(gpus: GpuReading[], note: string | null): GpuList {
  return gpus.length === 0 ? { gpus, note: note ?? 'nvidia-smi lists no GPUs' } : { gpus, note };
}

async function listGpus(run: RunCommand): Promise<GpuList> {
  const xml = await runCatching(run, 'nvidia-smi', NVIDIA_SMI_XML_ARGS);
  if (xml.code === 127) return { gpus: [], note: 'nvidia-smi not found: no GPU on this host' };
  if (xml.code !== 0) {
    return { gpus: [], note: `nvidia-smi -q -x failed (exit ${xml.code}): ${firstOutputLine(xml)}` };
  }
  let xmlError: string;
  try {
    return listed(parseNvidiaSmiXml(xml.stdout), null);
  } catch (err) {
    xmlError = err instanceof Error ? err.message : String(err);
  }
  const csv = await runCatching(run, 'nvidia-smi', NVIDIA_SMI_CSV_ARGS);
  if (csv.code !== 0) {
    return {
      gpus: [],
      note: `nvidia-smi XML unreadable (${xmlError}) and its CSV query failed (exit ${csv.code}): ${firstOutputLine(csv)}`,
    };
  }
  try {
    return listed(parseNvidiaSmiCsv(csv.stdout), `nvidia-smi XML unreadable (${xmlError}); read its CSV query instead`);
  } catch (err) {
    const csvError = err instanceof Error ? err.message : String(err);
    return { gpus: [], note: `nvidia-smi output unreadable: XML (${xmlError}), CSV (${csvError})` };
  }
}

/**
 * The GPUs this worker may use: all of them, or only `pinnedIndex` (`malan worker --gpu N`).
 * Never throws: whatever went wrong comes back as the note, for the operator.
 */
export async function readGpus(
  run: RunCommand,
  pinnedIndex?: number,
): Promise<{ gpus: GpuReading[]; note: string | null }> {
  const all = await listGpus(run);
  if (pinnedIndex === undefined) return all;
  if (all.gpus.length === 0) return { gpus: [], note: `GPU ${pinnedIndex} was pinned, but ${all.note}` };
  const pinned = all.gpus.filter((gpu) => gpu.index === pinnedIndex);
  if (pinned.length > 0) return { gpus: pinned, note: all.note };
  const present = all.gpus.map((gpu) => gpu.index).join(', ');
  return { gpus: [], note: `GPU ${pinnedIndex} was pinned but nvidia-smi lists only GPU(s) ${present}` };
}
