/**
 * Fetching a prediction's input from an outside URL. The API checked the URL at submission, but a
 * name can resolve elsewhere by the time the worker asks (DNS rebinding), and redirects can point
 * anywhere: so every hop is resolved here and refused if it leads to a private address, unless the
 * operator allow-listed the host (MALAN_INPUT_URL_ALLOWLIST).
 */
import { createWriteStream } from 'node:fs';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { JobError } from '../src/jobs/job-error.js';
import { isPrivateHost } from '../src/services/webhook-url.js';
import { allowListed } from '../src/services/prediction-inputs.js';

const MAX_REDIRECTS = 5;

export async function fetchOutside(raw: string, dest: string, signal: AbortSignal, opts: { maxBytes: number; allowList: string }): Promise<number> {
  let url = new URL(raw);
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    await refusePrivate(url, opts.allowList);
    const res = await fetch(url, { signal, redirect: 'manual' }).catch((err: Error) => {
      if (signal.aborted) throw err;
      throw new JobError('source_not_found', `could not fetch ${url.host}: ${err.message}`);
    });
    if (res.status >= 300 && res.status < 400 && res.headers.get('location')) {
      url = new URL(res.headers.get('location')!, url);
      continue;
    }
    if (!res.ok || !res.body) throw new JobError('source_not_found', `fetching the input from ${url.host} failed: HTTP ${res.status}`);
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > opts.maxBytes) throw new JobError('invalid_input', `the input at ${url.host} is ${declared} bytes, over the limit of ${opts.maxBytes}`);
    let bytes = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        if (bytes > opts.maxBytes) done(new JobError('invalid_input', `the input at ${url.host} is over the limit of ${opts.maxBytes} bytes`));
        else done(null, chunk);
      },
    });
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), count, createWriteStream(dest), { signal });
    return bytes;
  }
  throw new JobError('source_not_found', `the input URL redirects more than ${MAX_REDIRECTS} times`);
}

async function refusePrivate(url: URL, allowList: string) {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new JobError('invalid_input', `the input URL must be http(s), not ${url.protocol}`);
  if (allowListed(allowList, url)) return;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = net.isIP(host) ? [host] : (await lookup(host, { all: true }).catch(() => [])).map((a) => a.address);
  if (!addresses.length) throw new JobError('source_not_found', `the input host ${url.hostname} does not resolve`);
  const inside = [url.hostname, ...addresses].find((a) => isPrivateHost(a));
  if (inside) throw new JobError('invalid_input', `the input URL leads to ${inside}, a loopback or private address; the farm does not fetch those`);
}
