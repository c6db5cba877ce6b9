import { mkdtempSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobError } from '../src/jobs/job-error.js';
import { httpTransfer } from './http-transfer.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'malan-transfer-'));
const stored = path.join(dir, 'stored');
writeFileSync(stored, 'the bytes of a stored file');
const received: Array<{ url: string; body: string; type: string | undefined }> = [];
const server = http.createServer((req, res) => {
  if (req.method === 'DELETE') {
    received.push({ url: `DELETE ${req.url}`, body: '', type: undefined });
    return res.writeHead(204).end();
  }
  if (req.method === 'GET') {
    if (req.url?.startsWith('/gone')) return res.writeHead(404).end();
    return res.end('over the wire');
  }
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    received.push({ url: req.url!, body, type: req.headers['content-type'] });
    res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'file_out' }));
  });
});
let base = '';
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => server.close());

const job = (localSize: number) => ({
  fileUrls: { file_a: `${base}/v1/files/file_a/content?sig=x`, file_gone: `${base}/gone` },
  localFiles: { file_a: { path: stored, size: localSize } },
  uploadUrl: `${base}/internal/jobs/job_1/outputs?expires=1&sig=y`,
});
const signal = new AbortController().signal;

describe('httpTransfer', () => {
  it('reads an input in place when this host has the stored file', async () => {
    const dest = path.join(dir, 'in-place');
    const got = await httpTransfer(job(26), 1, { readLocal: true }).fetchInput('file_a', dest, signal);
    expect(got).toEqual({ bytes: 26, via: 'local' });
    expect(readlinkSync(dest)).toBe(stored);
  });

  it('fetches over HTTP when the local copy differs, or local reads are off', async () => {
    const a = path.join(dir, 'http-1');
    expect(await httpTransfer(job(999), 1, { readLocal: true }).fetchInput('file_a', a, signal)).toEqual({ bytes: 13, via: 'http' });
    expect(readFileSync(a, 'utf8')).toBe('over the wire');
    const b = path.join(dir, 'http-2');
    expect((await httpTransfer(job(26), 1, { readLocal: false }).fetchInput('file_a', b, signal)).via).toBe('http');
  });

  it('says the source is gone on a 404, and refuses a file the job does not carry', async () => {
    await expect(httpTransfer(job(0), 1, { readLocal: true }).fetchInput('file_gone', path.join(dir, 'g'), signal)).rejects.toMatchObject({ code: 'source_not_found' });
    await expect(httpTransfer(job(0), 1, { readLocal: true }).fetchInput('file_other', path.join(dir, 'o'), signal)).rejects.toBeInstanceOf(JobError);
  });

  it('uploads an output with its name, attempt and type to the signed URL', async () => {
    const out = path.join(dir, 'out.mp4');
    writeFileSync(out, 'an output');
    expect(await httpTransfer(job(0), 2, { readLocal: true }).upload('output.mp4', out, 'video/mp4', signal)).toBe('file_out');
    expect(received.at(-1)).toEqual({ url: '/internal/jobs/job_1/outputs?expires=1&sig=y&name=output.mp4&attempt=2', body: 'an output', type: 'video/mp4' });
    await httpTransfer(job(0), 2, { readLocal: true }).discard('output.mp4', signal);
    expect(received.at(-1)!.url).toBe('DELETE /internal/jobs/job_1/outputs?expires=1&sig=y&name=output.mp4&attempt=2');
  });
});
