/**
 * The Open Inference Protocol v2 (KServe, Triton) for raw tensors: server and model metadata,
 * readiness, and `infer`, which runs as an inference job like any prediction and answers when it
 * ends. Model names here are the farm's `owner/name`, as two path segments. Errors take the
 * protocol's shape, `{"error": "<message>"}`.
 */
import { eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { ApiError } from '../api-error.js';
import type { ApiEnv } from '../auth.js';
import type { FarmContext } from '../../services/farm-context.js';
import type { JobEventHub } from '../../services/job-events.js';
import { findModel, findVersion, manifestOf } from '../../services/models.js';
import { checkTensors, storeTensors, type RawTensor } from '../../services/prediction-inputs.js';
import { submitJob } from '../../services/jobs.js';
import { waitForEnd } from '../../services/predictions.js';
import { files } from '../../db/schema.js';
import { OIP_DATATYPES } from '../../onnx/tensor.js';
import type { ResolvedManifest } from '../../models/manifest.js';
import { readWhole } from '../../storage/storage.js';

const INFER_WAIT_SECONDS = 60;

export function inferenceV2Api(ctx: FarmContext, hub: JobEventHub) {
  const resolve = async (owner: string, name: string, version?: string) => {
    const model = await findModel(ctx.db, owner, name);
    const v = model ? await findVersion(ctx.db, version ?? model.latestVersionId ?? '') : null;
    if (!model || !v || v.modelId !== model.id) throw new ApiError('not_found', `model ${owner}/${name}${version ? ` version ${version}` : ''} was not found`);
    return { model, version: v, manifest: manifestOf(v) };
  };
  const metadata = (m: ResolvedManifest, versionId: string) => ({
    name: m.name,
    versions: [versionId],
    platform: 'onnxruntime_onnx',
    inputs: m.inputs.map((t) => ({ name: t.name, datatype: OIP_DATATYPES[t.dtype], shape: t.shape.map((d) => (typeof d === 'number' ? d : -1)) })),
    outputs: m.outputs.map((t) => ({ name: t.name, datatype: OIP_DATATYPES[t.dtype], shape: t.shape.map((d) => (typeof d === 'number' ? d : -1)) })),
  });
  const app = new Hono<ApiEnv>();
  app.onError((err, c) => {
    if (err instanceof ApiError) return c.json({ error: err.message }, err.status as 400);
    throw err;
  });
  return app
    .get('/', (c) => c.json({ name: 'malan', version: '0.1.0', extensions: [] }))
    .get('/health/live', (c) => c.json({ live: true }))
    .get('/health/ready', (c) => c.json({ ready: true }))
    .get('/models/:owner/:name', async (c) => {
      const r = await resolve(c.req.param('owner'), c.req.param('name'));
      return c.json(metadata(r.manifest, r.version.id));
    })
    .get('/models/:owner/:name/ready', async (c) => {
      await resolve(c.req.param('owner'), c.req.param('name'));
      return c.json({ name: `${c.req.param('owner')}/${c.req.param('name')}`, ready: true });
    })
    .get('/models/:owner/:name/versions/:version', async (c) => {
      const r = await resolve(c.req.param('owner'), c.req.param('name'), c.req.param('version'));
      return c.json(metadata(r.manifest, r.version.id));
    })
    .post('/models/:owner/:name/infer', async (c) => {
      const r = await resolve(c.req.param('owner'), c.req.param('name'));
      const body = (await c.req.json().catch(() => null)) as { id?: unknown; inputs?: unknown } | null;
      if (!body || !Array.isArray(body.inputs)) throw new ApiError('invalid_request', 'the body must be {"inputs": [{"name", "datatype", "shape", "data"}]}');
      const who = c.get('principal');
      const tensors = checkTensors(r.manifest, body.inputs as RawTensor[]);
      const file = await storeTensors(ctx, who, tensors);
      const { job } = await submitJob(ctx, who, { kind: 'inference', input: { model: r.manifest.name, version: r.version.id, inputs: {}, tensors: { file } } }, undefined);
      const row = await waitForEnd(ctx, hub, who, job.id, INFER_WAIT_SECONDS);
      if (row.status === 'failed' || row.status === 'canceled') throw new ApiError('invalid_request', row.error?.message ?? row.status);
      if (row.status !== 'succeeded') throw new ApiError('unavailable', `inference ${row.id} is still running after ${INFER_WAIT_SECONDS} s; follow it at /v1/predictions/${row.id}`);
      const out = (row.result as { $file?: string } | null)?.$file;
      const [f] = out ? await ctx.db.select().from(files).where(eq(files.id, out)) : [];
      if (!f) throw new Error(`inference ${row.id} succeeded without its tensors file`);
      const outputs = (JSON.parse((await readWhole(ctx.storage, f.storageKey)).toString('utf8')) as { outputs: unknown[] }).outputs;
      return c.json({ model_name: r.manifest.name, model_version: r.version.id, id: typeof body.id === 'string' ? body.id : row.id, outputs });
    });
}
