/**
 * Models and versions in the shape of Replicate's API (so its clients list and inspect them), with
 * the farm's own fields beside: the task, licence, hardware needs and the declared tensors. Each
 * version's `openapi_schema` describes its input and output, as Replicate's do.
 */
import type { ModelRow, ModelVersionRow } from '../db/schema.js';
import type { ResolvedManifest } from '../models/manifest.js';
import { OIP_DATATYPES } from '../onnx/tensor.js';
import { manifestOf } from './models.js';

export function modelView(model: ModelRow, latest: ModelVersionRow | null, baseUrl: string) {
  return {
    url: `${baseUrl}/v1/models/${model.owner}/${model.name}`,
    owner: model.owner,
    name: model.name,
    description: model.description,
    visibility: 'public',
    github_url: null,
    paper_url: null,
    license_url: null,
    run_count: 0,
    cover_image_url: null,
    default_example: null,
    task: model.task,
    license: model.license,
    latest_version: latest ? versionView(latest) : null,
  };
}

export function versionView(v: ModelVersionRow) {
  const m = manifestOf(v);
  return {
    id: v.id,
    created_at: v.createdAt.toISOString(),
    cog_version: null,
    label: v.label,
    openapi_schema: openApiSchema(m),
    weights: { sha256: v.weightsSha256, size: v.weightsSize },
    inputs: m.inputs,
    outputs: m.outputs,
    batch: m.batch ?? null,
    hardware: m.hardware,
  };
}

const media = (what: string) => ({ type: 'string', format: 'uri', description: `The ${what}: a URL, a data: URL, or an uploaded file's URL or id` });
const label = { type: 'string', enum: ['implicit', 'visible'], default: 'implicit', description: 'The AIGC label: the implicit one (metadata) is always there; "visible" adds a mark' };

function openApiSchema(m: ResolvedManifest) {
  let input: Record<string, unknown>;
  let output: Record<string, unknown>;
  switch (m.task) {
    case 'image-to-image':
      input = { type: 'object', required: ['image'], properties: { image: media('image'), label } };
      output = { type: 'string', format: 'uri' };
      break;
    case 'video-to-video':
      input = { type: 'object', required: ['video'], properties: { video: media('video'), label } };
      output = { type: 'string', format: 'uri' };
      break;
    case 'image-classification':
      input = { type: 'object', required: ['image'], properties: { image: media('image'), top_k: { type: 'integer', minimum: 1, maximum: 100, default: m.postprocess?.type === 'classification' ? m.postprocess.top_k : 5 } } };
      output = { type: 'array', items: { type: 'object', properties: { label: { type: 'string' }, index: { type: 'integer' }, score: { type: 'number' } } } };
      break;
    case 'tensor':
      input = {
        type: 'object',
        required: m.inputs.map((t) => t.name),
        properties: Object.fromEntries(
          m.inputs.map((t) => [t.name, { type: 'object', description: `${OIP_DATATYPES[t.dtype]} [${t.shape}]`, properties: { datatype: { type: 'string', enum: [OIP_DATATYPES[t.dtype]] }, shape: { type: 'array', items: { type: 'integer' } }, data: { type: 'array', items: { type: 'number' } } } }]),
        ),
      };
      output = { type: 'string', format: 'uri', description: 'A JSON file of the output tensors (Open Inference Protocol shape)' };
      break;
  }
  return { openapi: '3.0.2', info: { title: m.name, version: m.version ?? '0' }, paths: {}, components: { schemas: { Input: input, Output: output } } };
}
