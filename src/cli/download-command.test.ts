import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { downloadOutputs, safeRelativeParts } from './download-command.js';
import { FarmClient } from './farm-client.js';

describe('safeRelativeParts', () => {
  it('keeps relative names and refuses any that could leave the folder', () => {
    expect(safeRelativeParts('hls/master.m3u8')).toEqual(['hls', 'master.m3u8']);
    expect(safeRelativeParts('poster.jpg')).toEqual(['poster.jpg']);
    for (const bad of ['', '/etc/passwd', '../x', 'a/../../x', 'a/./b', 'a//b', 'a/', 'a\\..\\b', 'C:/x', 'c:x', 'a\0b', '..']) {
      expect(safeRelativeParts(bad), JSON.stringify(bad)).toBeNull();
    }
  });
});

/** A stand-in API: one job with the given outputs, each output's bytes served by name. */
let server: Server | undefined;
afterEach(() => server?.close());

async function fakeApi(outputs: Array<{ name?: string; file: string; role: string; size?: number }>, bytes: Record<string, string>, status = 'succeeded') {
  const requests: string[] = [];
  server = createServer((req, res) => {
    requests.push(req.url!);
    if (req.url === '/v1/jobs/job_1') return res.end(JSON.stringify({ id: 'job_1', status, outputs }));
    const name = decodeURIComponent(req.url!.replace(/^\/v1\/jobs\/job_1\/outputs\//, '').replace(/^\/v1\/files\/(.*)\/content$/, '$1'));
    if (name in bytes) return res.end(bytes[name]);
    res.statusCode = 404;
    res.end(JSON.stringify({ error: { code: 'not_found', message: `no output ${name}` } }));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { requests, client: new FarmClient({ apiUrl, key: 'mk_test', apiUrlFrom: 'test', keyFrom: 'test' }) };
}

describe('downloadOutputs', () => {
  it('writes each output under its relative name, skips those already there with the same size, filters by role', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'malan-dl-'));
    const outputs = [
      { name: 'hls/master.m3u8', file: 'file_a', role: 'hls-master', size: 7 },
      { name: 'poster.jpg', file: 'file_b', role: 'poster', size: 5 },
      { file: 'file_c', role: 'mp4', size: 3 },
    ];
    const api = await fakeApi(outputs, { 'hls/master.m3u8': '#EXTM3U', 'poster.jpg': 'JFIF!', file_c: 'mp4' });
    const first = await downloadOutputs(api.client, 'job_1', { dir });
    expect(first.files.map((f) => [path.relative(dir, f.path), f.skipped])).toEqual([['hls/master.m3u8', false], ['poster.jpg', false], ['file_c', false]]);
    expect(readFileSync(path.join(dir, 'hls/master.m3u8'), 'utf8')).toBe('#EXTM3U');
    writeFileSync(path.join(dir, 'poster.jpg'), 'old'); // another size: fetched again
    api.requests.length = 0;
    const again = await downloadOutputs(api.client, 'job_1', { dir });
    expect(again.files.map((f) => f.skipped)).toEqual([true, false, true]);
    expect(api.requests).toEqual(['/v1/jobs/job_1', '/v1/jobs/job_1/outputs/poster.jpg']);
    expect(readFileSync(path.join(dir, 'poster.jpg'), 'utf8')).toBe('JFIF!');
    const posters = await downloadOutputs(api.client, 'job_1', { dir: path.join(dir, 'p'), role: 'poster' });
    expect(posters.files.map((f) => f.name)).toEqual(['poster.jpg']);
    await expect(downloadOutputs(api.client, 'job_1', { dir, role: 'sprite' })).rejects.toThrow('job job_1 has no outputs with role sprite; its roles: hls-master, poster, mp4');
  });

  it('refuses names that lead outside the folder before writing anything', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'malan-dl-'));
    const api = await fakeApi([{ name: 'ok.txt', file: 'f1', role: 'x' }, { name: '../escape.txt', file: 'f2', role: 'x' }], { 'ok.txt': 'ok', '../escape.txt': 'bad' });
    await expect(downloadOutputs(api.client, 'job_1', { dir: path.join(dir, 'out') })).rejects.toThrow('refusing output names that would lead outside the folder: "../escape.txt"');
    expect(existsSync(path.join(dir, 'escape.txt'))).toBe(false);
    expect(existsSync(path.join(dir, 'out', 'ok.txt'))).toBe(false);
  });

  it('does not follow a symbolic link in the folder to write elsewhere', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'malan-dl-'));
    const elsewhere = path.join(dir, 'elsewhere');
    mkdirSync(elsewhere);
    mkdirSync(path.join(dir, 'out'));
    symlinkSync(elsewhere, path.join(dir, 'out', 'frames'));
    const api = await fakeApi([{ name: 'frames/deep/f.png', file: 'f1', role: 'frame' }], { 'frames/deep/f.png': 'png' });
    await expect(downloadOutputs(api.client, 'job_1', { dir: path.join(dir, 'out') })).rejects.toThrow(/leads outside .* \(a symbolic link\)/);
    expect(existsSync(path.join(elsewhere, 'deep'))).toBe(false);
  });

  it('refuses a job that has not succeeded, and a short download', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'malan-dl-'));
    const running = await fakeApi([], {}, 'running');
    await expect(downloadOutputs(running.client, 'job_1', { dir })).rejects.toThrow("job job_1 is running; only a succeeded job's outputs can be downloaded (malan watch job_1)");
    server!.close();
    const short = await fakeApi([{ name: 'a.bin', file: 'f1', role: 'x', size: 10 }], { 'a.bin': 'abc' });
    await expect(downloadOutputs(short.client, 'job_1', { dir })).rejects.toThrow('a.bin: got 3 bytes, the job says 10');
    expect(readdirSync(dir)).toEqual([]); // neither the file nor its .part
    expect(statSync(dir).isDirectory()).toBe(true);
  });
});
