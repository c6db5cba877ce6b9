/**
 * The AIGC API end to end on real processes and real models: models added with the CLI, Replicate's
 * own npm client against the farm (upload, run with wait, read the output), a signed webhook checked
 * with that client's validator, outputs compared with a bare onnxruntime-node run, the AIGC label
 * read back, batching across concurrent predictions, raw tensors over the Open Inference Protocol,
 * a video through a model frame by frame, and the bad inputs each refused clearly.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import Replicate, { validateWebhook } from 'replicate';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, waitForJob, type ApiClient } from '../helpers/api-client.js';
import { IMAGES, MODELS, VIDEO } from '../helpers/assets.js';
import { startFarm, type FarmProcesses } from '../helpers/farm-processes.js';
import { testWorld } from '../helpers/test-env.js';
import { webhookReceiver } from '../helpers/webhook-receiver.js';
import { readTensorProto } from '../../src/onnx/tensor-proto.js';

let farm: FarmProcesses;
let api: ApiClient;
let key: string;
let replicate: Replicate;
let receiver: Awaited<ReturnType<typeof webhookReceiver>>;
const SR_MANIFEST = path.resolve(import.meta.dirname, '../../models/malan/super-resolution.json');

function manifest(dir: string, name: string, body: Record<string, unknown>): string {
  const file = path.join(dir, `${name.replace('/', '-')}.json`);
  writeFileSync(file, JSON.stringify({ license: 'as its source says (test data)', ...body, name }));
  return file;
}

beforeAll(async () => {
  receiver = await webhookReceiver();
  farm = await startFarm((await testWorld()).env);
  key = await farm.createKey('creator-a');
  api = apiClient(farm.baseUrl, key);
  replicate = new Replicate({ auth: key, baseUrl: `${farm.baseUrl}/v1` });
  const dir = farm.home;
  await farm.cli(['models', 'add', SR_MANIFEST, '--weights', path.join(MODELS, 'super-resolution-10.onnx')]);
  await farm.cli(['models', 'add', manifest(dir, 'test/mnist', { task: 'tensor', weights: { path: path.join(MODELS, 'mnist-8.onnx') } })]);
  const labels = readFileSync(path.join(MODELS, 'imagenet-labels.txt'), 'utf8').trim().split('\n').map((l) => l.slice(l.indexOf(',') + 1));
  await farm.cli([
    'models', 'add',
    manifest(dir, 'test/squeezenet', {
      task: 'image-classification',
      weights: { path: path.join(MODELS, 'squeezenet1.0-fp16.onnx') },
      // As SOURCES.md found: BGR, raw 0–255 values, no mean/std.
      preprocess: { fit: 'fill', color: 'bgr', layout: 'nchw', scale: 1 },
      postprocess: { type: 'classification', labels, top_k: 3 },
    }),
  ]);
  const sr = JSON.parse(readFileSync(SR_MANIFEST, 'utf8'));
  await farm.cli(['models', 'add', manifest(dir, 'test/super-resolution-video', { ...sr, name: undefined, task: 'video-to-video', weights: { path: path.join(MODELS, 'super-resolution-10.onnx') } })]);
}, 120_000);
afterAll(async () => {
  await farm?.stop();
  receiver?.close();
});

/** The super-resolution model's own result on the test's own preprocessing of the image (Y of the 224×224 resize). */
async function bareSuperResolution(image: Buffer): Promise<{ y: Float32Array; width: number }> {
  const { data } = await sharp(image).rotate().removeAlpha().resize(224, 224, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
  const y = new Float32Array(224 * 224);
  for (let i = 0; i < y.length; i++) y[i] = Math.floor(0.299 * data[i * 3]! + 0.587 * data[i * 3 + 1]! + 0.114 * data[i * 3 + 2]! + 0.5) / 255;
  const session = await ort.InferenceSession.create(path.join(MODELS, 'super-resolution-10.onnx'));
  const out = await session.run({ input: new ort.Tensor('float32', y, [1, 1, 224, 224]) });
  await session.release();
  return { y: out.output!.data as Float32Array, width: 672 };
}

/** The Y plane (BT.601 full range, as JPEG) of an RGB image. */
async function lumaOf(png: Buffer): Promise<{ y: Float64Array; width: number; height: number }> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const y = new Float64Array(info.width * info.height);
  for (let i = 0; i < y.length; i++) y[i] = 0.299 * data[i * 3]! + 0.587 * data[i * 3 + 1]! + 0.114 * data[i * 3 + 2]!;
  return { y, width: info.width, height: info.height };
}

describe('the AIGC API', () => {
  it('lists the added models with their input schemas, as Replicate does', async () => {
    const models = (await replicate.models.list()).results;
    expect(models.map((m) => `${m.owner}/${m.name}`).sort()).toEqual(['malan/super-resolution', 'test/mnist', 'test/squeezenet', 'test/super-resolution-video']);
    const sr = await replicate.models.get('malan', 'super-resolution');
    expect(sr.latest_version?.id).toMatch(/^[0-9a-f]{64}$/);
    expect((sr.latest_version?.openapi_schema as any).components.schemas.Input.required).toEqual(['image']);
    expect((await api.get('/v1/models/test/mnist')).body.latest_version.inputs).toEqual([{ name: 'Input3', dtype: 'float32', shape: [1, 1, 28, 28] }]);
  });

  it('runs the official replicate client against the farm: upload, run with wait, read the output; pixels match a bare onnxruntime run', async () => {
    const photo = readFileSync(path.join(IMAGES, 'super-res-input.jpg'));
    const file = await replicate.files.create(photo);
    const output = (await replicate.run('malan/super-resolution', { input: { image: file.urls.get } })) as unknown as string;
    expect(typeof output).toBe('string');
    const png = Buffer.from(await (await fetch(output)).arrayBuffer()); // a signed URL: no key needed
    const meta = await sharp(png).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 672, 672]);
    // The label: the implicit one is in the XMP, its ProduceID the prediction's id.
    const xmp = meta.xmp!.toString('utf8');
    expect(xmp).toContain('http://www.tc260.org.cn/ns/AIGC/1.0/');
    expect(xmp).toMatch(/&quot;Label&quot;:&quot;1&quot;|"Label":"1"/);
    const predictions = (await replicate.predictions.list()).results;
    expect(xmp).toContain(predictions[0]!.id);
    // The luma the farm wrote is the model's output for the same input.
    const bare = await bareSuperResolution(photo);
    const farmY = await lumaOf(png);
    let worst = 0;
    let sum = 0;
    for (let i = 0; i < farmY.y.length; i++) {
      const diff = Math.abs(farmY.y[i]! - Math.min(255, Math.max(0, bare.y[i]! * 255)));
      worst = Math.max(worst, diff);
      sum += diff;
    }
    // Only rounding apart: the output is stored as 8-bit RGB and converted back to luma here.
    expect({ mean: sum / farmY.y.length, worst }).toEqual({ mean: expect.any(Number), worst: expect.any(Number) });
    console.log(`super-resolution luma vs bare onnxruntime: mean |diff| ${(sum / farmY.y.length).toFixed(3)}, worst ${worst.toFixed(1)} (of 255)`);
    expect(sum / farmY.y.length).toBeLessThan(1.5);
    expect(worst).toBeLessThan(12);
  });

  it('reports a prediction in Replicate\'s shape with predict_time, logs and a webhook signed the way its client verifies', async () => {
    const url = receiver.url;
    const res = await api.post('/v1/predictions', { version: (await api.get('/v1/models/malan/super-resolution')).body.latest_version.id, input: { image: `data:image/jpeg;base64,${readFileSync(path.join(IMAGES, 'cat.jpg')).toString('base64')}`, label: 'visible' }, webhook: url, webhook_events_filter: ['completed'] }, { Prefer: 'wait=60' });
    expect(res.status).toBe(201);
    const p = res.body;
    expect(p).toMatchObject({ status: 'succeeded', model: 'malan/super-resolution', error: null, source: 'api' });
    expect(p.metrics.predict_time).toBeGreaterThan(0);
    expect(p.logs).toContain('labelled as AI-generated (visible mark too)');
    expect(p.urls.get).toBe(`${farm.baseUrl}/v1/predictions/${p.id}`);
    expect((await api.get(`/v1/jobs/${p.id}`)).body.kind).toBe('inference'); // a prediction is a job
    const hook = (await receiver.waitFor(1))[0]!;
    const secret = (await replicate.webhooks.default.secret.get()).key;
    expect(await validateWebhook({ id: hook.headers['webhook-id'] as string, timestamp: hook.headers['webhook-timestamp'] as string, signature: hook.headers['webhook-signature'] as string, body: hook.body, secret })).toBe(true);
    expect(JSON.parse(hook.body)).toMatchObject({ id: p.id, status: 'succeeded' });
    // The visible mark changed the picture (a corner), the implicit label is there as always.
    const marked = Buffer.from(await (await fetch(p.output)).arrayBuffer());
    expect((await sharp(marked).metadata()).xmp!.toString()).toContain(p.id);
  });

  it('batches 16 concurrent predictions into fewer session runs, with identical outputs', async () => {
    const image = `data:image/jpeg;base64,${readFileSync(path.join(IMAGES, 'leopard.jpg')).toString('base64')}`;
    const created = await Promise.all(Array.from({ length: 16 }, () => api.post('/v1/models/malan/super-resolution/predictions', { input: { image } })));
    const done = await Promise.all(created.map((r) => waitForJob(api, r.body.id, 120_000)));
    expect(done.map((j) => j.status)).toEqual(Array(16).fill('succeeded'));
    const sessionRuns = done.reduce((n, j) => n + 1 / j.execution.batch_size, 0);
    expect(Math.round(sessionRuns)).toBeLessThan(16);
    const pixels = await Promise.all(done.map(async (j) => (await sharp(Buffer.from(await (await fetch(j.outputs[0].url, { headers: { authorization: `Bearer ${key}` } })).arrayBuffer())).raw().toBuffer()).toString('base64')));
    expect(new Set(pixels).size).toBe(1);
  });

  it('classifies a photo (float16 SqueezeNet): the cat is a tabby', async () => {
    const res = await api.post('/v1/models/test/squeezenet/predictions', { input: { image: `data:image/jpeg;base64,${readFileSync(path.join(IMAGES, 'cat.jpg')).toString('base64')}` } }, { Prefer: 'wait' });
    expect(res.body.status).toBe('succeeded');
    expect(res.body.output).toHaveLength(3);
    expect(res.body.output[0].label).toMatch(/tabby/);
  });

  it('takes the smallest inference job on /v1/jobs too: the model by name, the image as a file', async () => {
    const file = (await api.upload(readFileSync(path.join(IMAGES, 'squeezenet-piano.jpg')), 'image/jpeg', 'piano.jpg')).body.id;
    const submitted = await api.post('/v1/jobs', { kind: 'inference', input: { model: 'test/squeezenet', inputs: { image: { file } } } });
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(201);
    expect(submitted.body.input.version).toMatch(/^[0-9a-f]{64}$/); // the latest, filled in
    const job = await waitForJob(api, submitted.body.id);
    expect(job.status).toBe('succeeded');
    expect(job.output[0].label).toMatch(/piano/);
    expect(job.execution).toMatchObject({ provider: 'cpu', model: { name: 'test/squeezenet' } });
    const bad = await api.post('/v1/jobs', { kind: 'inference', input: { model: 'test/squeezenet', inputs: { image: { file }, prompt: 'x' } } });
    expect([bad.status, bad.body.error.message]).toEqual([400, expect.stringMatching(/"prompt" is not an input/)]);
  });

  it('runs raw tensors over the Open Inference Protocol: identical to a bare session.run and to the golden output', async () => {
    const input = { data: readTensorProto(readFileSync(path.join(MODELS, 'mnist-8.input_0.pb'))).tensor.data as Float32Array };
    const golden = { data: readTensorProto(readFileSync(path.join(MODELS, 'mnist-8.output_0.pb'))).tensor.data as Float32Array };
    const meta = await api.get('/v2/models/test/mnist');
    expect(meta.body.inputs).toEqual([{ name: 'Input3', datatype: 'FP32', shape: [1, 1, 28, 28] }]);
    expect((await api.get('/v2/models/test/mnist/ready')).body.ready).toBe(true);
    const res = await api.post('/v2/models/test/mnist/infer', { inputs: [{ name: 'Input3', datatype: 'FP32', shape: [1, 1, 28, 28], data: Array.from(input.data) }] });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const out = res.body.outputs[0];
    expect([out.name, out.datatype, out.shape]).toEqual(['Plus214_Output_0', 'FP32', [1, 10]]);
    const session = await ort.InferenceSession.create(path.join(MODELS, 'mnist-8.onnx'));
    const bare = (await session.run({ Input3: new ort.Tensor('float32', input.data, [1, 1, 28, 28]) })).Plus214_Output_0!.data as Float32Array;
    await session.release();
    expect(out.data).toEqual(Array.from(bare));
    out.data.forEach((v: number, i: number) => expect(v).toBeCloseTo(golden.data[i]!, 4));
  });

  it('applies an image model to every frame of a real clip: same frame count, the model on a frame, audio kept, labelled', async () => {
    const clip = path.join(VIDEO, 'bbb_480p_vp9_opus_1second.webm');
    const file = (await api.upload(readFileSync(clip), 'video/webm', 'bbb.webm')).body.id;
    const created = await api.post('/v1/models/test/super-resolution-video/predictions', { input: { video: file } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const job = await waitForJob(api, created.body.id, 300_000);
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    const out = path.join(farm.home, 'v2v.mp4');
    writeFileSync(out, Buffer.from(await (await fetch(job.outputs[0].url, { headers: { authorization: `Bearer ${key}` } })).arrayBuffer()));
    const frames = (f: string) => Number(execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', f]).toString().trim());
    expect(frames(out)).toBe(frames(clip));
    const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', out]).toString());
    expect(probe.streams.find((s: any) => s.codec_type === 'video')).toMatchObject({ width: 672, height: 672 });
    expect(probe.streams.some((s: any) => s.codec_type === 'audio')).toBe(true);
    expect(JSON.stringify(probe.format.tags)).toContain(created.body.id);
    // Frame 10 of the output is the model's 3× upscale of frame 10 of the source (luma, codec loss allowed).
    const frame = (f: string, size: string) => execFileSync('ffmpeg', ['-v', 'error', '-i', f, '-vf', `select=eq(n\\,10),scale=${size}:flags=area,format=gray`, '-frames:v', '1', '-f', 'rawvideo', '-']);
    const src = frame(clip, '224:224');
    const dst = frame(out, '224:224');
    const diff = src.reduce((s, v, i) => s + Math.abs(v - dst[i]!), 0) / src.length;
    expect(diff).toBeLessThan(6);
  });

  it('cancels a running prediction: the worker stops its ffmpeg and the prediction ends canceled', async () => {
    const file = (await api.upload(readFileSync(path.join(VIDEO, 'bug_video_640.mp4')), 'video/mp4', 'bug.mp4')).body.id;
    const created = (await api.post('/v1/models/test/super-resolution-video/predictions', { input: { video: file } })).body;
    expect(created.status).toBe('starting');
    const deadline = Date.now() + 60_000;
    while ((await replicate.predictions.get(created.id)).status !== 'processing' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const canceled = await replicate.predictions.cancel(created.id);
    expect(canceled.status).toBe('canceled');
    const job = await waitForJob(api, created.id);
    expect(job.status).toBe('canceled');
    expect(job.output).toBeNull();
  });
});

describe('bad input to the AIGC API', () => {
  it.each([
    ['an unknown model', '/v1/models/nobody/nothing/predictions', { input: { image: 'https://example.com/a.png' } }, 404, /nobody\/nothing was not found/],
    ['an unknown version', '/v1/predictions', { version: 'a'.repeat(64), input: {} }, 404, /version a+ was not found/],
    ['an input the model does not take', '/v1/models/malan/super-resolution/predictions', { input: { image: 'https://example.com/a.png', prompt: 'x' } }, 400, /"prompt" is not an input/],
    ['a private address', '/v1/models/malan/super-resolution/predictions', { input: { image: 'http://10.1.2.3/a.png' } }, 400, /private address/],
    ['loopback by name', '/v1/models/malan/super-resolution/predictions', { input: { image: 'http://localhost:9/a.png' } }, 400, /private address/],
    ['a data URL over the limit', '/v1/models/malan/super-resolution/predictions', { input: { image: `data:image/png;base64,${'A'.repeat(14_000_000)}` } }, 413, /over the limit/],
    ['a wrong dtype (OIP)', '/v2/models/test/mnist/infer', { inputs: [{ name: 'Input3', datatype: 'INT64', shape: [1, 1, 28, 28], data: Array(784).fill(0) }] }, 400, /datatype must be FP32/],
    ['a wrong shape (OIP)', '/v2/models/test/mnist/infer', { inputs: [{ name: 'Input3', datatype: 'FP32', shape: [1, 1, 14, 56], data: Array(784).fill(0) }] }, 400, /does not fit the model's \[1,1,28,28\]/],
    ['too few values (OIP)', '/v2/models/test/mnist/infer', { inputs: [{ name: 'Input3', datatype: 'FP32', shape: [1, 1, 28, 28], data: [1, 2, 3] }] }, 400, /has 3 values/],
  ])('%s: %s', async (_name, route, body, status, message) => {
    const before = (await api.get('/v1/jobs?kind=inference&limit=100')).body.results.length;
    const res = await api.post(route, body);
    expect(res.status).toBe(status);
    expect(res.body.error?.message ?? res.body.error).toMatch(message); // /v2 errors are the protocol's {"error": "…"}
    expect((await api.get('/v1/jobs?kind=inference&limit=100')).body.results.length).toBe(before); // nothing was created
  });

  it.each([
    ['a 50000×50000 PNG', () => hugePng(), /50000×50000|50000x50000/],
    ['a file that is not an image', () => Buffer.from('just some words, not pixels\n'.repeat(40)), /not an image/],
  ])('%s: a failed prediction that says why', async (_name, bytes, message) => {
    const file = (await api.upload(bytes(), 'image/png', 'input.png')).body;
    const res = await api.post('/v1/models/malan/super-resolution/predictions', { input: { image: file.urls.get } }, { Prefer: 'wait=60' });
    expect(res.body.status).toBe('failed');
    expect(res.body.error).toMatch(message);
    expect((await api.get(`/v1/jobs/${res.body.id}`)).body.attempts).toBe(1); // bad input is not retried
  });

  it('refuses a model file that is not ONNX, with the CLI and over the API', async () => {
    const fake = path.join(farm.home, 'fake.onnx');
    writeFileSync(fake, readFileSync(path.join(IMAGES, 'cat.jpg')));
    // The shipped manifest names its weights' sha256, so a wrong file is caught before it is read…
    await expect(farm.cli(['models', 'add', SR_MANIFEST, '--weights', fake])).rejects.toThrow(/sha256 is [0-9a-f]{64}, not the 85f36ff8/);
    // …and without one, the file itself is refused.
    const { weights: _sha, ...unpinned } = JSON.parse(readFileSync(SR_MANIFEST, 'utf8'));
    await expect(farm.cli(['models', 'add', manifest(farm.home, 'test/fake', unpinned), '--weights', fake])).rejects.toThrow(/not an ONNX model/);
    expect((await api.get('/v1/models/test/fake')).status).toBe(404);
    const op = apiClient(farm.baseUrl, await farm.createKey('ops', true));
    const weights = (await op.upload(readFileSync(fake), 'application/octet-stream', 'fake.onnx')).body.id;
    const res = await op.post('/v1/admin/models', { ...JSON.parse(readFileSync(SR_MANIFEST, 'utf8')), name: 'ops/fake', weights: { file: weights } });
    expect(res.status).toBe(422);
    expect(res.body.error.message).toMatch(/not an ONNX model/);
    expect((await api.get('/v1/models/ops/fake')).status).toBe(404);
    expect((await api.post('/v1/admin/models', {})).status).toBe(403); // tenants do not add models
  });
});

/** A real PNG whose header declares 50000×50000 (its one IDAT is tiny): decoding it would need 7.5 GB. */
function hugePng(): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf: Buffer) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(50000, 0);
  ihdr.writeUInt32BE(50000, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])), chunk('IEND', Buffer.alloc(0))]);
}
