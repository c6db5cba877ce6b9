/**
 * What the console reads beyond the public API: the overview, and one SSE stream that sends the
 * open view's data every couple of seconds (the overview, a page of jobs with the page's filter,
 * the workers, or the caller's live channels — all, or one with `channel`), so every screen stays
 * live without reloads and without one request per row.
 */
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import { ApiError } from '../api-error.js';
import type { ApiEnv } from '../auth.js';
import type { LiveChannelView } from '../../console/console-shapes.js';
import type { FarmContext } from '../../services/farm-context.js';
import { consoleOverview } from '../../services/console-overview.js';
import { formatIssues } from '../../services/format-issues.js';
import { listJobs } from '../../services/jobs.js';
import type { Principal } from '../../services/keys.js';
import { channelView, getChannelRow, listChannels } from '../../services/live-channels.js';
import { listWorkers } from '../../services/worker-view.js';

/** How often a stream sends the view again. Two seconds: live to a person, cheap for the database. */
const TICK_MS = 2000;

const streamQuery = z.object({
  view: z.enum(['overview', 'jobs', 'workers', 'live'], { error: 'view must be overview, jobs, workers or live' }).default('overview'),
  /** With view=live: only this channel (the channel's page), a 404 when the caller cannot see it. */
  channel: z.string().optional(),
  kind: z.string().optional(),
  status: z.string().optional(),
  q: z.string().optional(),
});

export function consoleDataApi(ctx: FarmContext) {
  return new Hono<ApiEnv>()
    .get('/overview', async (c) => c.json(await consoleOverview(ctx, c.get('principal'))))
    .get('/stream', async (c) => {
      const parsed = streamQuery.safeParse(c.req.query());
      if (!parsed.success) throw new ApiError('invalid_request', formatIssues(parsed.error));
      const { view, channel, ...filter } = parsed.data;
      const who = c.get('principal');
      if (view === 'workers' && !who.operator) throw new ApiError('forbidden', 'workers are shown to operator keys only');
      const jobFilter = Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined && v !== '')) as Record<string, string>;
      const read = async () => {
        if (view === 'jobs') return listJobs(ctx, who, { ...jobFilter, limit: '50' });
        if (view === 'workers') return { results: await listWorkers(ctx) };
        if (view === 'live') return { results: await liveChannels(ctx, who, channel) };
        return consoleOverview(ctx, who);
      };
      await read(); // a bad filter (400) or a channel the caller cannot see (404) fails here, before the stream starts
      return streamSSE(c, async (sse) => {
        let closed = false;
        let wake: () => void = () => {};
        sse.onAbort(() => {
          closed = true;
          wake();
        });
        let id = 0;
        while (!closed) {
          await sse.writeSSE({ event: view, data: JSON.stringify(await read()), id: String(++id) });
          await new Promise<void>((r) => {
            wake = r;
            setTimeout(r, TICK_MS);
          });
        }
      });
    });
}

/** The caller's channels (or the one asked for), typed as the Live page reads them. */
async function liveChannels(ctx: FarmContext, who: Principal, channel: string | undefined): Promise<LiveChannelView[]> {
  if (channel) return [await channelView(ctx, await getChannelRow(ctx, who, channel))];
  return (await listChannels(ctx, who)).results;
}
