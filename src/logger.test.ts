import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, jobFields, prettyLine, type LoggerOptions } from './logger.js';
import { scrubText } from './log-redaction.js';

function capture(opts: LoggerOptions = {}) {
  const lines: string[] = [];
  const out = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const log = createLogger('worker', { ...opts, out });
  return { log, lines, json: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('createLogger (json)', () => {
  it('writes one JSON object a line with the level label, ISO time, component and message', () => {
    const { log, lines, json } = capture();
    log.info('ready', { kinds: ['transcode'], concurrency: 2 });
    expect(lines).toHaveLength(1);
    const [line] = json();
    expect(line).toMatchObject({ level: 'info', component: 'worker', msg: 'ready', kinds: ['transcode'], concurrency: 2, pid: process.pid });
    expect(line!.time).toBe(new Date(String(line!.time)).toISOString());
    expect(typeof line!.hostname).toBe('string');
  });

  it('carries bound fields on every line, children included, each key once', () => {
    const { log, lines, json } = capture();
    const worker = log.with({ worker: 'wrk_1' });
    const job = worker.with(jobFields('job_1', 'ten_1')).with({ attempt: 1 });
    job.info('started');
    job.child('upload').warn('slow', { seconds: 3 });
    job.with({ attempt: 2 }).info('resumed');
    worker.info('idle');
    expect(json()).toEqual([
      expect.objectContaining({ msg: 'started', component: 'worker', worker: 'wrk_1', job_id: 'job_1', tenant: 'ten_1', attempt: 1 }),
      expect.objectContaining({ msg: 'slow', component: 'worker/upload', worker: 'wrk_1', job_id: 'job_1', tenant: 'ten_1', seconds: 3 }),
      expect.objectContaining({ msg: 'resumed', attempt: 2 }),
      expect.not.objectContaining({ job_id: expect.anything() }),
    ]);
    // pino writes a key bound by a parent and a child twice; these lines must not.
    for (const l of lines) expect(l.match(/"attempt":/g)?.length ?? 0).toBeLessThanOrEqual(1);
    expect(lines[1]!.match(/"component":/g)).toHaveLength(1);
  });

  it('drops lines below the level', () => {
    const { log, json } = capture({ level: 'warn' });
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(json().map((l) => [l.level, l.msg])).toEqual([
      ['warn', 'w'],
      ['error', 'e'],
    ]);
  });

  it('leaves out fields that are undefined', () => {
    const { log, lines } = capture();
    log.with(jobFields('job_1', undefined)).info('x', { error: undefined });
    expect(lines[0]).not.toMatch(/tenant|error/);
  });
});

describe('secrets', () => {
  it('censors secret fields at the top, one level down and in bound fields', () => {
    const { log, lines, json } = capture();
    log.with({ apiKey: 'mk_live_abc' }).info('request', {
      headers: { authorization: 'Bearer mk_live_abc', 'webhook-signature': 'v1,abc', accept: 'json' },
      tenant: { webhookSecret: 'whsec_abc', name: 'studio-a' },
      streamKey: 'live_abc',
      password: 'hunter2',
    });
    expect(lines[0]).not.toMatch(/mk_live_abc|v1,abc|whsec_abc|live_abc|hunter2/);
    expect(json()[0]).toMatchObject({ apiKey: '[redacted]', headers: { authorization: '[redacted]', 'webhook-signature': '[redacted]', accept: 'json' }, tenant: { name: 'studio-a' } });
  });

  it('censors URL signatures and passwords in messages and string fields, keeping the rest of the URL', () => {
    const { log, lines, json } = capture();
    const signed = 'http://127.0.0.1:8080/v1/files/fil_1/content?expires=1700000000&sig=c2VjcmV0';
    log.warn(`GET ${signed} answered 500`, { url: signed, urls: [signed], nested: { at: 'https://b.s3.amazonaws.com/o?X-Amz-Signature=abc&x=1' }, redis: 'redis://default:pa55@10.0.0.5:6379' });
    expect(lines[0]).not.toMatch(/c2VjcmV0|X-Amz-Signature=abc|pa55/);
    expect(json()[0]).toMatchObject({
      msg: 'GET http://127.0.0.1:8080/v1/files/fil_1/content?expires=1700000000&sig=[redacted] answered 500',
      url: 'http://127.0.0.1:8080/v1/files/fil_1/content?expires=1700000000&sig=[redacted]',
      nested: { at: 'https://b.s3.amazonaws.com/o?X-Amz-Signature=[redacted]&x=1' },
      redis: 'redis://default:[redacted]@10.0.0.5:6379',
    });
  });

  it('censors API keys, webhook secrets and bearer tokens wherever they are in text', () => {
    expect(scrubText('key mk_Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0 refused')).toBe('key mk_[redacted] refused');
    expect(scrubText('secret whsec_c2VjcmV0c2VjcmV0c2VjcmV0+/= rotated')).toBe('secret whsec_[redacted] rotated');
    expect(scrubText('sent Authorization: Bearer abc.def-ghi')).toBe('sent Authorization: Bearer [redacted]');
  });

  it('leaves text without secrets as it was', () => {
    for (const text of ['listening on http://127.0.0.1:8080', 'redis://***@host:6379', 'piece 2/4 failed: ffmpeg exited 1', 'a=b&c=d'])
      expect(scrubText(text)).toBe(text);
  });
});

describe('pretty format', () => {
  it('renders the same fields as one readable line', () => {
    const { log, lines } = capture({ format: 'pretty' });
    log.with({ worker: 'wrk_1', ...jobFields('job_1', 'ten_1') }).child('upload').warn('failed', { code: 'internal', message: 'disk full', sig: 'abc' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN  \[worker\/upload\] failed worker=wrk_1 job_id=job_1 tenant=ten_1 code=internal message="disk full" sig=\[redacted\]$/);
  });

  it('lays out a JSON line as the old readable line', () => {
    expect(prettyLine('{"level":"info","time":"2026-01-01T00:00:00.000Z","pid":1,"hostname":"h","component":"api","msg":"listening","gpus":["0:H100"]}')).toBe(
      '2026-01-01T00:00:00.000Z INFO  [api] listening gpus=["0:H100"]\n',
    );
  });
});
