/**
 * Moves files for a job with the signed URLs it carries: the worker needs no shared disk. Where
 * it does share the API's disk (one host), an input is read in place instead of copied.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { stat, symlink } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TransferDoor } from '../src/jobs/job-runtime.js';
import { JobError } from '../src/jobs/job-error.js';
import type { JobPayload } from '../src/queue/messages.js';

export async function download(url: string, dest: string, signal: AbortSignal): Promise<number> {
  const res = await fetch(url, { signal });
  if (res.status === 404) throw new JobError('source_not_found', 'the file is gone from the farm');
  if (!res.ok || !res.body) throw new Error(`fetching a file failed: HTTP ${res.status}`);
  await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(dest), { signal });
  return (await stat(dest)).size;
}

/** PUTs a file to a signed URL, streamed, with its size declared so the farm can refuse it early. */
export async function uploadFile(url: string, source: string, contentType: string, signal: AbortSignal): Promise<Response> {
  const size = (await stat(source)).size;
  return fetch(url, {
    method: 'PUT',
    headers: { 'content-type': contentType, 'content-length': String(size) },
    body: Readable.toWeb(createReadStream(source)) as ReadableStream,
    duplex: 'half',
    signal,
  } as RequestInit);
}

export function httpTransfer(job: Pick<JobPayload, 'fileUrls' | 'localFiles' | 'uploadUrl'>, attempt: number, opts: { readLocal: boolean }): TransferDoor {
  const door: TransferDoor = {
    async fetchInput(fileId, dest, signal) {
      const local = opts.readLocal ? job.localFiles?.[fileId] : undefined;
      // Stored files are written once under their id: the same path with the same size is that file.
      const size = local ? await stat(local.path).then((s) => s.size, () => -1) : -1;
      if (local && size === local.size) {
        await symlink(local.path, dest);
        return { bytes: size, via: 'local' };
      }
      const url = job.fileUrls[fileId];
      if (!url) throw new JobError('source_not_found', `the job carries no URL for file ${fileId}`);
      return { bytes: await download(url, dest, signal), via: 'http' };
    },
    async upload(name, source, contentType, signal) {
      return (await door.share(name, source, contentType, signal)).file;
    },
    async share(name, source, contentType, signal) {
      const res = await uploadFile(`${job.uploadUrl}&name=${encodeURIComponent(name)}&attempt=${attempt}`, source, contentType, signal);
      if (!res.ok) throw new Error(`storing ${name} failed: HTTP ${res.status} ${await res.text()}`);
      const stored = (await res.json()) as { id: string; url: string };
      return { file: stored.id, url: stored.url };
    },
    async fetchUrl(url, dest, signal) {
      return download(url, dest, signal);
    },
    async discard(name, signal) {
      const res = await fetch(`${job.uploadUrl}&name=${encodeURIComponent(name)}&attempt=${attempt}`, { method: 'DELETE', signal });
      if (!res.ok && res.status !== 404) throw new Error(`discarding ${name} failed: HTTP ${res.status}`);
    },
  };
  return door;
}
