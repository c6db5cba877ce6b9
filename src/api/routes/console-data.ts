/**
 * What the console reads beyond the public API: the overview, and one SSE stream that sends the
 * open view's data every couple of seconds (the overview, a page of jobs with the page's filter,
 * or the workers), so every screen stays live without reloads and without one request per row.
 */
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import { ApiError } from '../api-error.js';
import type { ApiEnv } from '../auth.js';
import type { FarmContext } from '../../services/farm-context.js';
import { consoleOverview } from '../../services/console-overview.js';
import { formatIssues } from '../../services/format-issues.js';
import { listJobs } from '../../services/jobs.js';
import { listWorkers } from '../../services/worker-view.js';

/** How often a stream sends the view again. Two seconds: live to a person, cheap for the database. */
const TICK_MS = 2000;

const streamQuery = z.object({
  view: z.enum(['overview', 'jobs', 'workers'], { error: 'view must be overview, jobs or workers' }).default('overview'),
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
      const { view, ...filter } = parsed.data;
      const who = c.get('principal');
      if (view === 'workers' && !who.operator) throw new ApiError('forbidden', 'workers are shown to operator keys only');
      const jobFilter = Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined && v !== '')) as Record<string, string>;
      const read = async () => {
        if (view === 'jobs') return listJobs(ctx, who, { ...jobFilter, limit: '50' });
        if (view === 'workers') return { results: await listWorkers(ctx) };
        return consoleOverview(ctx, who);
      };
      await read(); // a bad filter fails here, as a 400, before the stream starts
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
