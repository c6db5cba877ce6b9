import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MODELS } from '../../test/helpers/assets.js';
import { packageRoot } from '../paths.js';
import { OnnxRunError } from './onnx-errors.js';
import { liveSessionThreads, SessionThread, sessionHostEntry } from './session-thread.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'malan-session-thread-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('sessionHostEntry', () => {
  test('built: the session-host.js beside this module', async () => {
    const dir = path.join(tmp, 'built', 'dist', 'src', 'onnx');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'session-host.js'), '');
    const here = pathToFileURL(path.join(dir, 'session-thread.js')).href;
    expect(sessionHostEntry(here, path.join(tmp, 'built')).href).toBe(pathToFileURL(path.join(dir, 'session-host.js')).href);
  });

  test('from the TypeScript sources (as here, under vitest): the copy tsc wrote into dist/', () => {
    expect(sessionHostEntry().href).toBe(pathToFileURL(path.join(packageRoot, 'dist/src/onnx/session-host.js')).href);
  });

  test('from the sources, a dist copy older than its source is refused, not silently run', async () => {
    const root = path.join(tmp, 'stale');
    const src = path.join(root, 'src', 'onnx');
    const dist = path.join(root, 'dist', 'src', 'onnx');
    await mkdir(src, { recursive: true });
    await mkdir(dist, { recursive: true });
    for (const f of ['session-host', 'batcher']) {
      await writeFile(path.join(src, `${f}.ts`), '');
      await writeFile(path.join(dist, `${f}.js`), '');
    }
    const here = pathToFileURL(path.join(src, 'session-thread.ts')).href;
    expect(sessionHostEntry(here, root).pathname).toBe(pathToFileURL(path.join(dist, 'session-host.js')).pathname);
    const later = new Date(Date.now() + 60_000);
    await utimes(path.join(src, 'batcher.ts'), later, later);
    expect(() => sessionHostEntry(here, root)).toThrow(new OnnxRunError('the built ONNX session host is older than src/onnx/batcher.ts: run npm run build'));
    await rm(path.join(dist, 'session-host.js'));
    expect(() => sessionHostEntry(here, root)).toThrow(/the ONNX session host is not built .*: run npm run build/);
  });
});

describe('SessionThread', () => {
  test('if the thread dies, waiting requests fail as OnnxRunError and the next request starts a new one', async () => {
    const exits: string[] = [];
    const thread = new SessionThread((why) => exits.push(why));
    const load = { type: 'load' as const, key: 'mnist', path: path.join(MODELS, 'mnist-8.onnx'), providers: ['cpu' as const] };
    expect(await thread.request(load)).toMatchObject({ type: 'loaded', provider: 'cpu' });
    const live = liveSessionThreads();

    // A native crash, as far as this side can tell: the worker is gone mid-request.
    const pending = thread.request(load);
    await (thread as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await expect(pending).rejects.toThrow(OnnxRunError);
    await expect(pending).rejects.toThrow(/^the ONNX session thread stopped/);
    expect(exits).toHaveLength(1);
    expect(liveSessionThreads()).toBe(live - 1);

    expect(await thread.request(load)).toMatchObject({ type: 'loaded' });
    expect(liveSessionThreads()).toBe(live);
    await thread.close();
    expect(liveSessionThreads()).toBe(live - 1);
  });
});
