/**
 * Reading an encoder's upload at once, before anything else is awaited. ffmpeg's HLS muxer sends
 * a segment in one burst and closes the connection without waiting for the answer; Node then
 * destroys the request, and whatever was not yet read is lost. So the bytes are taken from the
 * socket as they arrive (Node's own request object where there is one), up to a limit.
 */
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { ApiError } from './api-error.js';

export function collectBody(c: Context, limit: number, what: string): Promise<Buffer> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  return incoming ? fromIncoming(incoming, limit, what) : fromWeb(c.req.raw.body, limit, what);
}

const tooLarge = (limit: number, what: string) => new ApiError('payload_too_large', `${what} is over ${limit} bytes`);

function fromIncoming(req: IncomingMessage, limit: number, what: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (err: Error | null) => {
      if (settled) return;
      settled = true;
      if (err) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    const onData = (d: Buffer) => {
      size += d.length;
      if (size <= limit) return void chunks.push(d);
      // Refused now; the rest is read and dropped so the answer can still be sent.
      chunks.length = 0;
      req.off('data', onData);
      req.resume();
      settle(tooLarge(limit, what));
    };
    req.on('data', onData);
    req.on('end', () => settle(null));
    // Closed right after the last byte (ffmpeg does): complete is what matters, not the close.
    req.on('close', () => settle(req.complete ? null : new ApiError('invalid_request', `${what} was cut off before its end`)));
    req.on('error', (e) => settle(req.complete ? null : e));
  });
}

async function fromWeb(body: ReadableStream<Uint8Array> | null, limit: number, what: string): Promise<Buffer> {
  if (!body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit, what);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}
