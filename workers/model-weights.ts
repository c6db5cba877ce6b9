/**
 * Model weights on a worker's disk, cached by sha256 so that a model is fetched once per host,
 * whatever the number of jobs. A file on the API's disk (same host) is used in place when its size
 * matches, as inputs are; a downloaded one is checked against its sha256 before it is used.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ModelPayload } from '../src/queue/messages.js';

export class ModelWeights {
  private readonly pending = new Map<string, Promise<string>>();

  constructor(
    private readonly cacheDir: string,
    private readonly download: (url: string, dest: string, signal: AbortSignal) => Promise<number>,
    private readonly readLocal: boolean,
  ) {}

  async path(model: ModelPayload, signal: AbortSignal): Promise<string> {
    const { weights } = model;
    if (this.readLocal && weights.localPath && (await sizeOf(weights.localPath)) === weights.size) return weights.localPath;
    const cached = path.join(this.cacheDir, `${weights.sha256}.onnx`);
    if ((await sizeOf(cached)) === weights.size) return cached;
    // One download per file however many jobs ask for it at once.
    let p = this.pending.get(weights.sha256);
    if (!p) {
      p = this.fetch(model, cached, signal).finally(() => this.pending.delete(weights.sha256));
      this.pending.set(weights.sha256, p);
    }
    return p;
  }

  private async fetch(model: ModelPayload, dest: string, signal: AbortSignal): Promise<string> {
    await mkdir(this.cacheDir, { recursive: true });
    const partial = `${dest}.${process.pid}.partial`;
    try {
      await this.download(model.weights.url, partial, signal);
      const sha = await sha256Of(partial);
      if (sha !== model.weights.sha256) throw new Error(`the weights of ${model.manifest.name} arrived damaged (sha256 ${sha}, expected ${model.weights.sha256})`);
      await rename(partial, dest);
      return dest;
    } finally {
      await rm(partial, { force: true });
    }
  }
}

const sizeOf = (file: string) => stat(file).then((s) => s.size, () => -1);

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
