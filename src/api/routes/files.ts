/**
 * Files: POST streams the body to storage (raw, or Replicate's multipart `content` field) and
 * never holds it whole in memory; GET content serves bytes with Range, to keys and signed URLs.
 */
import { Readable } from 'node:stream';
import { Hono, type Context } from 'hono';
import { ApiError, notFound } from '../api-error.js';
import { bearerToken, type ApiEnv } from '../auth.js';
import { serveFile } from '../serve-file.js';
import { readMultipartFile } from '../multipart-upload.js';
import { EmptyFileError, findFile, fileView, storeFile } from '../../services/files.js';
import { authenticate } from '../../services/keys.js';
import type { FarmContext } from '../../services/farm-context.js';
import { TooLargeError } from '../../storage/storage.js';

export function filesApi(ctx: FarmContext) {
  const limit = ctx.config.MALAN_MAX_UPLOAD_BYTES;
  return new Hono<ApiEnv>()
    .post('/', async (c) => {
      const who = c.get('principal');
      const declared = Number(c.req.header('content-length') ?? NaN);
      if (declared > limit) throw tooLarge(limit);
      const body = c.req.raw.body;
      if (!body) throw new ApiError('invalid_request', 'the upload is empty: send the file as the request body or as multipart field "content"');
      const type = c.req.header('content-type') ?? 'application/octet-stream';
      const source = Readable.fromWeb(body as import('node:stream/web').ReadableStream);
      try {
        const upload = type.startsWith('multipart/form-data')
          ? await readMultipartFile(source, c.req.raw.headers, 'content')
          : { stream: source, name: nameFrom(c), contentType: type };
        const row = await storeFile(ctx.db, ctx.storage, { tenantId: who.tenantId, name: upload.name, contentType: upload.contentType, body: upload.stream, maxBytes: limit });
        return c.json(fileView(row, ctx.baseUrl), 201);
      } catch (err) {
        if (err instanceof TooLargeError) throw tooLarge(limit);
        if (err instanceof EmptyFileError) throw new ApiError('invalid_request', 'the upload is empty (0 bytes): send the file\'s bytes as the body');
        throw err;
      }
    })
    .get('/:id', async (c) => {
      const row = await findFile(ctx.db, c.get('principal'), c.req.param('id'));
      if (!row) throw notFound('file', c.req.param('id'));
      return c.json(fileView(row, ctx.baseUrl));
    });
}

/** GET /v1/files/:id/content, for a key (scoped to its tenant) or a signed URL (what workers hold). */
export function fileContentApi(ctx: FarmContext) {
  return new Hono().on(['GET', 'HEAD'], '/:id/content', async (c) => {
    const id = c.req.param('id');
    const signed = ctx.signer.verify('GET', `/v1/files/${id}/content`, c.req.query('expires'), c.req.query('sig'));
    let row;
    if (signed) row = await findFile(ctx.db, { operator: true }, id);
    else {
      const key = bearerToken(c.req.header('authorization'));
      const who = key ? await authenticate(ctx.db, key) : null;
      if (!who) throw new ApiError('unauthorized', 'send an API key as "Authorization: Bearer <key>", or use a signed URL that has not expired');
      row = await findFile(ctx.db, who, id);
    }
    if (!row) throw notFound('file', id);
    return serveFile(c, ctx, row);
  });
}

function nameFrom(c: Context): string {
  const q = c.req.query('name') ?? c.req.query('filename');
  if (q) return q;
  const disposition = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(c.req.header('content-disposition') ?? '');
  return disposition ? decodeURIComponent(disposition[1]!) : 'upload';
}

const tooLarge = (limit: number) => new ApiError('payload_too_large', `the file is larger than this farm's upload limit of ${limit} bytes (MALAN_MAX_UPLOAD_BYTES)`);
