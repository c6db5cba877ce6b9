/**
 * Routes for the farm's own processes, not for users: workers store outputs through signed URLs
 * (no key, no shared disk), and the CLI creates keys through a running API that owns the embedded
 * database (PGlite is one process), authenticated by the secret under MALAN_HOME.
 */
import { Readable } from 'node:stream';
import { timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import { ApiError } from '../api-error.js';
import { jobs, files } from '../../db/schema.js';
import { and } from 'drizzle-orm';
import { storeFile } from '../../services/files.js';
import { createKey } from '../../services/keys.js';
import { addModelFromFiles } from '../../services/model-import.js';
import type { FarmContext } from '../../services/farm-context.js';
import { TooLargeError } from '../../storage/storage.js';
import { rungKey, sourceKey } from '../../services/live-ingest.js';

/** An output's name is a relative path (`hls/v0/seg_00001.m4s`): segments start with a letter or digit, so no `..` and no hidden files. */
export const OUTPUT_NAME = /^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,127}\/){0,4}[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function internalApi(ctx: FarmContext) {
  return new Hono()
    .put('/jobs/:id/outputs', async (c) => {
      const { id, name, attempt } = outputTarget(ctx, c.req.param('id'), c.req.query());
      const [job] = await ctx.db.select().from(jobs).where(eq(jobs.id, id));
      if (!job) throw new ApiError('not_found', `job ${id} was not found`);
      const [existing] = await ctx.db.select().from(files).where(and(eq(files.jobId, id), eq(files.attempt, attempt), eq(files.name, name)));
      // The signed GET lets another worker read it (a split job's chunks travel this way).
      const urlOf = (fileId: string) => ctx.signer.sign('GET', `/v1/files/${fileId}/content`, 7 * 24 * 3600);
      if (existing) return c.json({ id: existing.id, size: existing.size, sha256: existing.sha256, url: urlOf(existing.id) });
      const body = c.req.raw.body;
      if (!body) throw new ApiError('invalid_request', 'empty body');
      try {
        const row = await storeFile(ctx.db, ctx.storage, {
          tenantId: job.tenantId,
          name,
          contentType: c.req.header('content-type') ?? 'application/octet-stream',
          body: Readable.fromWeb(body as import('node:stream/web').ReadableStream),
          maxBytes: ctx.config.MALAN_MAX_UPLOAD_BYTES,
          jobId: id,
          attempt,
        });
        return c.json({ id: row.id, size: row.size, sha256: row.sha256, url: urlOf(row.id) }, 201);
      } catch (err) {
        if (err instanceof TooLargeError) throw new ApiError('payload_too_large', err.message);
        throw err;
      }
    })
    .delete('/jobs/:id/outputs', async (c) => {
      const { id, name, attempt } = outputTarget(ctx, c.req.param('id'), c.req.query());
      const [row] = await ctx.db.delete(files).where(and(eq(files.jobId, id), eq(files.attempt, attempt), eq(files.name, name))).returning();
      if (!row) throw new ApiError('not_found', `no output ${name} of attempt ${attempt}`);
      await ctx.storage.delete(row.storageKey);
      return c.body(null, 204);
    })
    // A live segment's source for the worker encoding it, and each rung it sends back.
    .get('/live/:channel/in/:name', async (c) => {
      const { channel, name } = c.req.param();
      if (!ctx.signer.verify('GET', `/internal/live/${channel}/in/${name}`, c.req.query('expires'), c.req.query('sig'))) throw new ApiError('forbidden', 'the URL is not valid or has expired');
      const key = sourceKey(channel, name);
      if ((await ctx.storage.size(key)) === null) throw new ApiError('not_found', `segment ${name} is gone (past its deadline, or the channel was deleted)`);
      return c.body(Readable.toWeb(ctx.storage.read(key)) as ReadableStream, 200, { 'Content-Type': 'video/mp2t' });
    })
    .put('/live/:channel/out/:seq/:rung', async (c) => {
      const { channel, seq, rung } = c.req.param();
      if (!ctx.signer.verify('PUT', `/internal/live/${channel}/out/${seq}/${rung}`, c.req.query('expires'), c.req.query('sig'))) throw new ApiError('forbidden', 'the upload URL is not valid or has expired');
      if (!c.req.raw.body) throw new ApiError('invalid_request', 'empty body');
      try {
        const stored = await ctx.storage.put(rungKey(channel, rung, Number(seq)), Readable.fromWeb(c.req.raw.body as import('node:stream/web').ReadableStream), { maxBytes: ctx.config.MALAN_LIVE_MAX_SEGMENT_BYTES });
        return c.json({ size: stored.size }, 201);
      } catch (err) {
        if (err instanceof TooLargeError) throw new ApiError('payload_too_large', err.message);
        throw err;
      }
    })
    .post('/keys', async (c) => {
      requireAdmin(ctx, c.req.header('authorization'));
      const body = z.object({ tenant: z.string(), operator: z.boolean() }).safeParse(await c.req.json().catch(() => null));
      if (!body.success) throw new ApiError('invalid_request', 'tenant and operator are required');
      try {
        return c.json(await createKey(ctx.db, body.data.tenant, body.data.operator), 201);
      } catch (err) {
        throw new ApiError('invalid_request', (err as Error).message);
      }
    })
    // `malan models add` while serve holds the embedded database: the files are on this host.
    .post('/models', async (c) => {
      requireAdmin(ctx, c.req.header('authorization'));
      const body = z.object({ manifest: z.unknown(), manifest_dir: z.string(), weights_path: z.string().optional() }).safeParse(await c.req.json().catch(() => null));
      if (!body.success) throw new ApiError('invalid_request', 'manifest and manifest_dir are required');
      const added = await addModelFromFiles(ctx.db, ctx.storage, body.data.manifest, body.data.manifest_dir, body.data.weights_path);
      return c.json({ model: added.model.owner + '/' + added.model.name, version: added.version.id, created: added.created }, 201);
    });
}

/** The CLI on this host, proven by the token derived from the farm's secret (which only this host's MALAN_HOME holds). */
function requireAdmin(ctx: FarmContext, authorization: string | undefined) {
  const given = Buffer.from(/^Admin (.+)$/.exec(authorization ?? '')?.[1] ?? '');
  const secret = Buffer.from(adminToken(ctx));
  if (given.length !== secret.length || !timingSafeEqual(given, secret)) throw new ApiError('unauthorized', 'admin token required');
}

/** The output an upload URL may write (or discard): the signature covers the job, the name and attempt are the worker's. */
function outputTarget(ctx: FarmContext, id: string, query: Record<string, string>) {
  if (!ctx.signer.verify('PUT', `/internal/jobs/${id}/outputs`, query.expires, query.sig)) {
    throw new ApiError('forbidden', 'the upload URL is not valid or has expired');
  }
  const name = query.name ?? '';
  const attempt = Number(query.attempt);
  if (!OUTPUT_NAME.test(name) || !Number.isInteger(attempt) || attempt < 1) throw new ApiError('invalid_request', 'name and attempt are required');
  return { id, name, attempt };
}

/** Derived from the farm secret, so the secret itself never travels. */
export function adminToken(ctx: Pick<FarmContext, 'signer'>): string {
  return ctx.signer.sign('PUT', '/internal/keys', 0, 0).split('sig=')[1]!;
}
