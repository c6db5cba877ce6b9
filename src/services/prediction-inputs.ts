/**
 * Turns what a creator sends as a prediction's input into what the job carries: media as a file of
 * theirs (an upload's id or URL, or a data: URL stored on the way in) or an outside URL the worker
 * fetches; raw tensors checked against the model and kept as one JSON file. Everything is checked
 * here, so a bad input is a 4xx that changes nothing rather than a job that fails later.
 */
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { Readable } from 'node:stream';
import { ApiError } from '../api/api-error.js';
import type { InferenceInput, MediaRef } from '../jobs/inference/spec.js';
import type { ResolvedManifest, TensorSpec } from '../models/manifest.js';
import { dtypeFromOip, elementCount, OIP_DATATYPES } from '../onnx/tensor.js';
import type { FarmContext } from './farm-context.js';
import { findFile, storeFile } from './files.js';
import type { Principal } from './keys.js';
import { isPrivateHost } from './webhook-url.js';

/** The media input each task takes, and the parameters it understands besides. */
export function taskInputs(manifest: ResolvedManifest): { media: 'image' | 'video' | null; params: string[] } {
  switch (manifest.task) {
    case 'image-to-image':
      return { media: 'image', params: ['label'] };
    case 'image-classification':
      return { media: 'image', params: ['top_k'] };
    case 'video-to-video':
      return { media: 'video', params: ['label'] };
    case 'tensor':
      return { media: null, params: [] };
  }
}

/** A name the model does not take is a mistake to say, not to ignore (a typo'd "imgae" would be lost). */
export function refuseUnknownInputs(manifest: ResolvedManifest, names: string[], field: string): void {
  const { media, params } = taskInputs(manifest);
  const known = media ? [media, ...params] : manifest.inputs.map((i) => i.name);
  const unknown = names.filter((k) => !known.includes(k));
  if (unknown.length) throw new ApiError('invalid_request', `${field}: ${unknown.map((k) => `"${k}"`).join(', ')} is not an input of ${manifest.name}; it takes ${known.map((k) => `"${k}"`).join(', ')}`);
}

export interface ResolvedInput {
  inputs: InferenceInput['inputs'];
  tensors?: { file: string };
  label: 'implicit' | 'visible';
}

export async function resolvePredictionInput(ctx: FarmContext, who: Principal, manifest: ResolvedManifest, input: unknown): Promise<ResolvedInput> {
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw new ApiError('invalid_request', 'input: must be an object of the model\'s inputs');
  const given = input as Record<string, unknown>;
  const { media, params } = taskInputs(manifest);
  if (!media) {
    const tensors = checkTensors(manifest, Object.entries(given).map(([name, t]) => ({ ...(t as object), name }) as RawTensor));
    return { inputs: {}, tensors: { file: await storeTensors(ctx, who, tensors) }, label: 'implicit' };
  }
  refuseUnknownInputs(manifest, Object.keys(given), 'input');
  if (given[media] === undefined) throw new ApiError('invalid_request', `input.${media}: required (a URL, a data: URL or an uploaded file's id)`);
  const inputs: InferenceInput['inputs'] = { [media]: await resolveMedia(ctx, who, `input.${media}`, given[media]) };
  if (given.top_k !== undefined) {
    if (!Number.isInteger(given.top_k) || (given.top_k as number) < 1 || (given.top_k as number) > 100) throw new ApiError('invalid_request', 'input.top_k: a whole number from 1 to 100');
    inputs.top_k = given.top_k as number;
  }
  const label = given.label ?? 'implicit';
  if (label !== 'implicit' && label !== 'visible') throw new ApiError('invalid_request', 'input.label: "implicit" (metadata only, always there) or "visible" (adds a mark)');
  return { inputs, label };
}

async function resolveMedia(ctx: FarmContext, who: Principal, field: string, value: unknown): Promise<MediaRef> {
  if (typeof value !== 'string') throw new ApiError('invalid_request', `${field}: a URL, a data: URL or an uploaded file's id`);
  if (/^file_[0-9a-z]{26}$/.test(value)) return ownFile(ctx, who, field, value);
  if (value.startsWith('data:')) return storeDataUrl(ctx, who, field, value);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ApiError('invalid_request', `${field}: "${value.slice(0, 80)}" is not a URL, a data: URL or a file id`);
  }
  const own = new URL(ctx.baseUrl);
  const fileOnFarm = /^\/v1\/files\/(file_[0-9a-z]{26})(?:\/content)?$/.exec(url.pathname);
  if (url.origin === own.origin && fileOnFarm) return ownFile(ctx, who, field, fileOnFarm[1]!);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ApiError('invalid_request', `${field}: only http(s) URLs, data: URLs and file ids`);
  if (url.username || url.password) throw new ApiError('invalid_request', `${field}: credentials in the URL are not allowed; upload the file instead`);
  await checkReachable(ctx, field, url);
  return { url: url.toString() };
}

async function ownFile(ctx: FarmContext, who: Principal, field: string, id: string): Promise<MediaRef> {
  if (!(await findFile(ctx.db, who, id))) throw new ApiError('invalid_request', `${field}: file ${id} was not found (upload it with POST /v1/files first)`);
  return { file: id };
}

/** Outside URLs must not lead into the farm's own network, by name or by what the name resolves to. */
export async function checkReachable(ctx: FarmContext, field: string, url: URL): Promise<void> {
  if (allowListed(ctx.config.MALAN_INPUT_URL_ALLOWLIST, url)) return;
  const refuse = (what: string) =>
    new ApiError('invalid_request', `${field}: ${what} is a loopback or private address; the farm does not fetch those (an operator can allow a host with MALAN_INPUT_URL_ALLOWLIST)`);
  if (isPrivateHost(url.hostname)) throw refuse(url.hostname);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (net.isIP(host)) return;
  const addresses = await lookup(host, { all: true }).catch(() => null);
  if (!addresses?.length) throw new ApiError('invalid_request', `${field}: the host ${url.hostname} does not resolve`);
  const inside = addresses.find((a) => isPrivateHost(a.address));
  if (inside) throw refuse(`${url.hostname} (${inside.address})`);
}

export function allowListed(list: string, url: URL): boolean {
  const entries = list.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  return entries.includes(url.hostname.toLowerCase()) || entries.includes(url.host.toLowerCase());
}

async function storeDataUrl(ctx: FarmContext, who: Principal, field: string, value: string): Promise<MediaRef> {
  const m = /^data:([a-z0-9.+-]+\/[a-z0-9.+-]+)?((?:;[a-z0-9-]+=[^;,]*)*)(;base64)?,/i.exec(value.slice(0, 512));
  if (!m) throw new ApiError('invalid_request', `${field}: a data: URL must look like data:<type>;base64,<data>`);
  const payload = value.slice(m[0].length);
  const limit = ctx.config.MALAN_MAX_DATA_URL_BYTES;
  const size = m[3] ? Math.floor((payload.length * 3) / 4) : payload.length;
  if (size > limit) throw new ApiError('payload_too_large', `${field}: the data: URL holds about ${size} bytes, over the limit of ${limit}; upload the file with POST /v1/files and pass its URL`);
  const bytes = m[3] ? Buffer.from(payload, 'base64') : Buffer.from(decodeURIComponent(payload), 'utf8');
  if (bytes.length === 0) throw new ApiError('invalid_request', `${field}: the data: URL is empty`);
  const row = await storeFile(ctx.db, ctx.storage, { tenantId: who.tenantId, name: 'input', contentType: m[1] ?? 'application/octet-stream', body: Readable.from([bytes]), maxBytes: limit });
  return { file: row.id };
}

export interface RawTensor {
  name: string;
  datatype?: unknown;
  shape?: unknown;
  data?: unknown;
}

export interface CheckedTensor {
  name: string;
  datatype: string;
  shape: number[];
  data: Array<number | boolean>;
}

/** Open Inference Protocol tensors against the model's declared inputs: names, datatypes, shapes, sizes. */
export function checkTensors(manifest: ResolvedManifest, given: RawTensor[]): CheckedTensor[] {
  const byName = new Map(given.map((t) => [t.name, t]));
  const extra = given.filter((t) => !manifest.inputs.some((i) => i.name === t.name));
  if (extra.length) throw new ApiError('invalid_request', `inputs: ${extra.map((t) => `"${t.name}"`).join(', ')} is not an input of ${manifest.name}; it takes ${manifest.inputs.map((i) => `"${i.name}"`).join(', ')}`);
  return manifest.inputs.map((spec) => {
    const t = byName.get(spec.name);
    if (!t) throw new ApiError('invalid_request', `inputs: "${spec.name}" is required (${describe(spec)})`);
    return checkTensor(spec, t);
  });
}

function checkTensor(spec: TensorSpec, t: RawTensor): CheckedTensor {
  const where = `inputs.${spec.name}`;
  const want = OIP_DATATYPES[spec.dtype];
  const dtype = typeof t.datatype === 'string' ? (dtypeFromOip(t.datatype) ?? (t.datatype in OIP_DATATYPES ? t.datatype : null)) : null;
  if (dtype !== spec.dtype) throw new ApiError('invalid_request', `${where}: datatype must be ${want} (the model's ${spec.dtype}), not ${JSON.stringify(t.datatype ?? null)}`);
  const shape = t.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw new ApiError('invalid_request', `${where}: shape must be a list of sizes, e.g. [${spec.shape.map((d) => (typeof d === 'number' ? d : 1))}]`);
  const fits = shape.length === spec.shape.length && spec.shape.every((d, i) => typeof d === 'string' || d === shape[i]);
  if (!fits) throw new ApiError('invalid_request', `${where}: shape [${shape}] does not fit the model's [${spec.shape}]`);
  const data = Array.isArray(t.data) ? t.data.flat(8) : null;
  if (!data || !data.every((v) => typeof v === 'number' || typeof v === 'boolean')) throw new ApiError('invalid_request', `${where}: data must be a list of numbers`);
  if (data.length !== elementCount(shape)) throw new ApiError('invalid_request', `${where}: data has ${data.length} values, but shape [${shape}] needs ${elementCount(shape)}`);
  return { name: spec.name, datatype: want, shape, data };
}

const describe = (spec: TensorSpec) => `${OIP_DATATYPES[spec.dtype]} [${spec.shape}]`;

export async function storeTensors(ctx: FarmContext, who: Principal, tensors: CheckedTensor[]): Promise<string> {
  const body = Readable.from([Buffer.from(JSON.stringify({ inputs: tensors }))]);
  const row = await storeFile(ctx.db, ctx.storage, { tenantId: who.tenantId, name: 'tensors.json', contentType: 'application/json', body, maxBytes: ctx.config.MALAN_MAX_UPLOAD_BYTES });
  return row.id;
}
