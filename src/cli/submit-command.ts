/**
 * `malan submit KIND …`: everything the command line says is checked first (the kind, each
 * `--set`, each `--file`, the input against the kind's schema); then each file is uploaded,
 * streamed from disk, and the job submitted with `@N` replaced by the uploads' ids.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { FarmClient } from './farm-client.js';
import { buildInput, checkInput, checkKind, replaceFileRefs } from './submit-input.js';
import { UsageError } from './usage-error.js';
import type { JobView } from './watch-command.js';

export interface SubmitArgs {
  kind: string | undefined;
  inputFile?: string;
  sets: string[];
  files: string[];
  idempotencyKey?: string;
}

export interface PreparedSubmit {
  kind: string;
  input: Record<string, unknown>;
  files: Array<{ path: string; size: number }>;
}

/** Everything that can be checked without the API; throws UsageError. */
export async function prepareSubmit(args: SubmitArgs): Promise<PreparedSubmit> {
  const kind = checkKind(args.kind);
  let base: unknown = {};
  if (args.inputFile !== undefined) {
    let text: string;
    try {
      text = args.inputFile === '-' ? await readStdin() : await readFile(args.inputFile, 'utf8');
    } catch (err) {
      throw new UsageError(`--input ${args.inputFile}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
    try {
      base = JSON.parse(text);
    } catch (err) {
      throw new UsageError(`--input ${args.inputFile} is not JSON: ${(err as Error).message}`);
    }
  }
  const input = buildInput(base, args.sets);
  const files: PreparedSubmit['files'] = [];
  for (const file of args.files) {
    const s = await stat(file).catch(() => null);
    if (!s) throw new UsageError(`--file ${file}: no such file`);
    if (!s.isFile()) throw new UsageError(`--file ${file}: not a regular file`);
    if (s.size === 0) throw new UsageError(`--file ${file}: the file is empty`);
    files.push({ path: file, size: s.size });
  }
  checkInput(kind, input, args.files);
  return { kind, input, files };
}

export async function submit(client: FarmClient, prepared: PreparedSubmit, opts: { idempotencyKey?: string; name?: string; say: (line: string) => void }): Promise<{ job: JobView; replayed: boolean }> {
  const ids: string[] = [];
  for (const file of prepared.files) {
    const name = path.basename(file.path);
    const res = await client.request(`/v1/files?name=${encodeURIComponent(name)}`, {
      method: 'POST',
      // The declared size lets the API refuse a file over its limit before a byte is sent.
      headers: { 'content-type': contentType(name), 'content-length': String(file.size) },
      body: Readable.toWeb(createReadStream(file.path)) as ReadableStream,
    });
    const uploaded = (await res.json()) as { id: string };
    opts.say(`uploaded ${file.path} (${formatBytes(file.size)}) as ${uploaded.id}`);
    ids.push(uploaded.id);
  }
  const headers: Record<string, string> = opts.idempotencyKey === undefined ? {} : { 'idempotency-key': opts.idempotencyKey };
  const { body, headers: answer } = await client.postJson<JobView>('/v1/jobs', { kind: prepared.kind, ...(opts.name !== undefined && { name: opts.name }), input: replaceFileRefs(prepared.input, ids) }, headers);
  return { job: body, replayed: answer.get('idempotent-replayed') === 'true' };
}

const CONTENT_TYPES: Record<string, string> = {
  '.mp4': 'video/mp4',
  '.m4v': 'video/mp4',
  '.mov': 'video/quicktime',
  '.mkv': 'video/x-matroska',
  '.webm': 'video/webm',
  '.mxf': 'application/mxf',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.exr': 'image/x-exr',
  '.json': 'application/json',
  '.wav': 'audio/wav',
};

export function contentType(name: string): string {
  return CONTENT_TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream';
}

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
