/**
 * `malan download JOB_ID [--dir DIR] [--role ROLE]`: a succeeded job's outputs, streamed into DIR
 * under their relative names (`hls/master.m3u8`, `frames/frame_000001.png`). A name is the
 * server's word, so it is checked: nothing absolute, no `..`, and no symbolic link in DIR leads a
 * write outside it. A file already there with the output's size is skipped (a re-run resumes).
 */
import { createWriteStream } from 'node:fs';
import { mkdir, realpath, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FarmClient } from './farm-client.js';
import type { JobView } from './watch-command.js';

type Output = JobView['outputs'][number];

/** `mp4/720p.mp4` → `["mp4", "720p.mp4"]`; null for a name that could lead outside the folder. */
export function safeRelativeParts(name: string): string[] | null {
  if (name === '' || name.includes('\0') || name.includes('\\') || /^[A-Za-z]:/.test(name)) return null;
  const parts = name.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return null; // '' also catches a leading '/'
  return parts;
}

/** Where an output goes: its name, or for an unnamed one its file id. */
export function outputName(o: Output): string {
  return o.name ?? o.file;
}

export interface DownloadResult {
  path: string;
  name: string;
  bytes: number;
  skipped: boolean;
}

export async function downloadOutputs(
  client: FarmClient,
  jobId: string,
  opts: { dir?: string; role?: string; onFile?: (r: DownloadResult) => void },
): Promise<{ dir: string; files: DownloadResult[] }> {
  const job = await client.getJson<JobView>(`/v1/jobs/${encodeURIComponent(jobId)}`);
  if (job.status !== 'succeeded') throw new Error(`job ${job.id} is ${job.status}; only a succeeded job's outputs can be downloaded${job.status === 'failed' || job.status === 'canceled' ? '' : ` (malan watch ${job.id})`}`);
  const outputs = opts.role ? job.outputs.filter((o) => o.role === opts.role) : job.outputs;
  if (!outputs.length) {
    const roles = [...new Set(job.outputs.map((o) => o.role))];
    throw new Error(opts.role ? `job ${job.id} has no outputs with role ${opts.role}; its roles: ${roles.join(', ') || 'none'}` : `job ${job.id} has no outputs`);
  }
  const refused = outputs.filter((o) => !safeRelativeParts(outputName(o)));
  if (refused.length) throw new Error(`refusing output names that would lead outside the folder: ${refused.map((o) => JSON.stringify(outputName(o))).join(', ')}`);
  const dir = path.resolve(opts.dir ?? job.id);
  await mkdir(dir, { recursive: true });
  const root = await realpath(dir);
  const results: DownloadResult[] = [];
  for (const o of outputs) {
    const result = await downloadOne(client, job.id, o, root);
    opts.onFile?.(result);
    results.push(result);
  }
  return { dir: root, files: results };
}

async function downloadOne(client: FarmClient, jobId: string, o: Output, root: string): Promise<DownloadResult> {
  const name = outputName(o);
  const target = path.join(root, ...safeRelativeParts(name)!);
  // A symbolic link already in DIR (frames → /etc) must not carry a write, or a mkdir, elsewhere.
  await checkInside(await deepestExisting(path.dirname(target)), root, name);
  await mkdir(path.dirname(target), { recursive: true });
  await checkInside(path.dirname(target), root, name);
  const existing = await stat(target).catch(() => null);
  if (existing?.isFile() && o.size !== undefined && existing.size === o.size) return { path: target, name, bytes: o.size, skipped: true };
  // Named outputs under the job (how a playlist's relative names resolve); unnamed ones by file id.
  const route = o.name ? `/v1/jobs/${encodeURIComponent(jobId)}/outputs/${o.name.split('/').map(encodeURIComponent).join('/')}` : `/v1/files/${encodeURIComponent(o.file)}/content`;
  const res = await client.request(route);
  if (!res.body) throw new Error(`${name}: the API sent no body`);
  const partial = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.part`);
  try {
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(partial, { flags: 'wx' }));
    const bytes = (await stat(partial)).size;
    if (o.size !== undefined && bytes !== o.size) throw new Error(`${name}: got ${bytes} bytes, the job says ${o.size}; run the download again`);
    await rename(partial, target);
    return { path: target, name, bytes, skipped: false };
  } finally {
    await rm(partial, { force: true });
  }
}

async function checkInside(dir: string, root: string, name: string): Promise<void> {
  const real = await realpath(dir);
  if (real !== root && !real.startsWith(root + path.sep)) throw new Error(`refusing ${name}: ${dir} leads outside ${root} (a symbolic link)`);
}

async function deepestExisting(dir: string): Promise<string> {
  for (let at = dir; ; at = path.dirname(at)) {
    if (await stat(at).then(() => true, () => false)) return at;
  }
}
