import { createServer, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FarmClient } from './farm-client.js';
import { watchJob, type JobView } from './watch-command.js';

const job = (over: Partial<JobView> = {}): JobView => ({
  id: 'job_1',
  kind: 'transcode',
  status: 'running',
  progress: 0.1,
  outputs: [],
  error: null,
  usage: { wall_seconds: 0, cpu_seconds: 0, gpu_seconds: 0 },
  execution: null,
  created_at: new Date().toISOString(),
  started_at: new Date().toISOString(),
  completed_at: null,
  ...over,
});

const sse = (res: ServerResponse, event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
const logLine = (msg: string) => ({ attempt: 1, lines: [{ t: '2026-11-25T10:00:00.000Z', level: 'info', msg }] });

let server: Server | undefined;
afterEach(() => server?.close());

/** A stand-in API whose n-th events stream is played by `streams[n]`. */
async function fakeApi(streams: Array<(res: ServerResponse) => void>) {
  let connections = 0;
  server = createServer((req, res) => {
    if (req.url === '/v1/jobs/job_1') return res.end(JSON.stringify(job()));
    if (req.url === '/v1/jobs/job_1/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      return streams[connections++]!(res);
    }
    res.statusCode = 404;
    res.end(JSON.stringify({ error: { code: 'not_found', message: 'job job_x was not found' } }));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { connections: () => connections, client: new FarmClient({ apiUrl, key: 'mk_test', apiUrlFrom: 'test', keyFrom: 'test' }) };
}

function capture() {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, opts: { logs: true, json: true, stdout: { write: (t: string) => stdout.push(t) }, stderr: { isTTY: false, write: (t: string) => stderr.push(t) } } };
}

describe('watchJob', () => {
  it('reconnects once when the stream drops before done, printing no log line twice', async () => {
    const api = await fakeApi([
      (res) => {
        sse(res, 'status', { status: 'running', progress: 0.1 });
        sse(res, 'log', logLine('first'));
        setTimeout(() => res.socket!.destroy(), 50); // dropped mid-job
      },
      (res) => {
        sse(res, 'status', { status: 'running', progress: 0.5 });
        sse(res, 'log', logLine('first')); // the log so far, again
        sse(res, 'log', logLine('second'));
        sse(res, 'done', job({ status: 'succeeded', progress: 1, completed_at: new Date().toISOString() }));
        res.end();
      },
    ]);
    const io = capture();
    expect(await watchJob(api.client, 'job_1', io.opts)).toBe(0);
    expect(api.connections()).toBe(2);
    const err = io.stderr.join('');
    expect(err.match(/INFO {2}first/g)).toHaveLength(1);
    expect(err).toContain('INFO  second');
    expect(err).toMatch(/the event stream dropped \(.*\); reconnecting/);
    expect(err).toContain('job_1 succeeded');
    expect(JSON.parse(io.stdout.join('')).status).toBe('succeeded');
  });

  it('gives up when the stream drops a second time', async () => {
    const drop = (res: ServerResponse) => {
      sse(res, 'status', { status: 'running', progress: 0.1 });
      res.end();
    };
    const api = await fakeApi([drop, drop, drop]);
    await expect(watchJob(api.client, 'job_1', capture().opts)).rejects.toThrow('the event stream of job_1 dropped again before the job ended (the server closed it); it goes on: malan watch job_1');
    expect(api.connections()).toBe(2);
  });

  it('exits 1 with the error when the job failed', async () => {
    const api = await fakeApi([
      (res) => {
        sse(res, 'status', { status: 'failed', error: { code: 'media_unreadable', message: 'the source is not a media file' } });
        sse(res, 'done', job({ status: 'failed', error: { code: 'media_unreadable', message: 'the source is not a media file' } }));
        res.end();
      },
    ]);
    const io = capture();
    expect(await watchJob(api.client, 'job_1', io.opts)).toBe(1);
    expect(io.stderr.join('')).toContain('malan: job job_1 failed: the source is not a media file (media_unreadable)');
  });

  it("passes on the API's refusal", async () => {
    const api = await fakeApi([]);
    await expect(watchJob(api.client, 'job_x', capture().opts)).rejects.toThrow('job job_x was not found (HTTP 404 not_found)');
  });
});
