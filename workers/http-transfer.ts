/** Moves files over HTTP with the signed URLs a job carries: the worker needs no shared disk. */
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TransferDoor } from '../src/jobs/job-runtime.js';
import { JobError } from '../src/jobs/job-error.js';

export function httpTransfer(uploadUrl: string, attempt: number): TransferDoor {
  return {
    async download(url, dest, signal) {
      const res = await fetch(url, { signal });
      if (res.status === 404) throw new JobError('source_not_found', 'the source file is gone from the farm');
      if (!res.ok || !res.body) throw new Error(`fetching the source failed: HTTP ${res.status}`);
      await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(dest), { signal });
      return (await stat(dest)).size;
    },
    async upload(name, source, contentType, signal) {
      const size = (await stat(source)).size;
      const res = await fetch(`${uploadUrl}&name=${encodeURIComponent(name)}&attempt=${attempt}`, {
        method: 'PUT',
        headers: { 'content-type': contentType, 'content-length': String(size) },
        body: Readable.toWeb(createReadStream(source)) as ReadableStream,
        duplex: 'half',
        signal,
      } as RequestInit);
      if (!res.ok) throw new Error(`storing ${name} failed: HTTP ${res.status} ${await res.text()}`);
      return ((await res.json()) as { id: string }).id;
    },
  };
}
