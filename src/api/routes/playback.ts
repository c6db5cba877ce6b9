/**
 * Keyless playback: `/v1/playback/<token>/<output name>` serves a succeeded job's outputs to
 * players that cannot send an Authorization header (Safari's native HLS, VLC, a shared preview
 * link). The token signs the job and an expiry, and sits in the path, so a master playlist's
 * relative references keep it.
 */
import { Hono } from 'hono';
import { eq } from 'drizzle-orm';
import { ApiError } from '../api-error.js';
import { serveFile } from '../serve-file.js';
import { jobs } from '../../db/schema.js';
import { findOutput } from '../../services/job-outputs.js';
import type { FarmContext } from '../../services/farm-context.js';

/** How long a playback link works. */
export const PLAYBACK_TTL_SECONDS = 24 * 3600;

export function playbackToken(ctx: Pick<FarmContext, 'signer'>, jobId: string, now = Date.now()): string {
  const url = new URL(ctx.signer.sign('GET', `/v1/playback/${jobId}`, PLAYBACK_TTL_SECONDS, now));
  return `${jobId}.${url.searchParams.get('expires')}.${url.searchParams.get('sig')}`;
}

export function playbackApi(ctx: FarmContext) {
  return new Hono().on(['GET', 'HEAD'], '/:token/*', async (c) => {
    const [jobId, expires, sig] = c.req.param('token').split('.');
    if (!jobId || !ctx.signer.verify('GET', `/v1/playback/${jobId}`, expires, sig)) {
      throw new ApiError('forbidden', 'this playback link is not valid or has expired; get a fresh one from the job');
    }
    const prefix = `/v1/playback/${c.req.param('token')}/`;
    const name = decodeURIComponent(c.req.path.slice(prefix.length));
    const [job] = await ctx.db.select().from(jobs).where(eq(jobs.id, jobId));
    const file = job ? await findOutput(ctx, job, name) : null;
    if (!file) throw new ApiError('not_found', `no output ${name}`);
    return serveFile(c, ctx, file);
  });
}
