/** Sends a stored file's bytes: Range, ETag, content type and CORS, so browser players work. */
import { Readable } from 'node:stream';
import type { Context } from 'hono';
import type { FileRow } from '../db/schema.js';
import type { FarmContext } from '../services/farm-context.js';
import { ApiError } from './api-error.js';
import { parseRange } from './http-range.js';

export function serveFile(c: Context, ctx: FarmContext, row: FileRow): Response {
  const range = parseRange(c.req.header('range'), row.size);
  if (range === 'unsatisfiable') throw new ApiError('range_not_satisfiable', `the range is outside the file's ${row.size} bytes`, { 'Content-Range': `bytes */${row.size}` });
  c.header('Accept-Ranges', 'bytes');
  c.header('Content-Type', row.contentType);
  c.header('ETag', `"${row.sha256}"`);
  c.header('Content-Disposition', `inline; filename*=UTF-8''${encodeURIComponent(row.name.split('/').pop()!)}`);
  c.header('Access-Control-Allow-Origin', '*');
  c.header('Access-Control-Expose-Headers', 'Content-Length, Content-Range, Accept-Ranges, ETag');
  const length = range ? range.end - range.start + 1 : row.size;
  c.header('Content-Length', String(length));
  if (range) {
    c.status(206);
    c.header('Content-Range', `bytes ${range.start}-${range.end}/${row.size}`);
  }
  if (c.req.method === 'HEAD' || length === 0) return c.body(null);
  // Handing the node stream over as a web stream lets the server pipe it at disk speed.
  return c.body(Readable.toWeb(ctx.storage.read(row.storageKey, range ?? undefined)) as ReadableStream);
}
