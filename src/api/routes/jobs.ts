/** /v1/jobs: submit, read, list, cancel, follow (SSE) and read the log. */
import { Hono } from 'hono';
import { streamSSE, stream } from 'hono/streaming';
import { ApiError } from '../api-error.js';
import type { ApiEnv } from '../auth.js';
import { TERMINAL_STATUSES, type JobStatus } from '../../db/schema.js';
import { cancelJob, getJobRow, jobWithUsage, listJobs, retryJob, submitJob } from '../../services/jobs.js';
import { listAttempts } from '../../services/job-attempts.js';
import { listTasks, pauseRender, requeueTask, resumeRender, taskView } from '../../services/render-jobs.js';
import { findOutput } from '../../services/job-outputs.js';
import { serveFile } from '../serve-file.js';
import { formatLogLine, readLogs } from '../../services/job-logs.js';
import type { FarmContext } from '../../services/farm-context.js';
import type { JobEvent, JobEventHub } from '../../services/job-events.js';

const isTerminal = (s: unknown) => (TERMINAL_STATUSES as readonly unknown[]).includes(s);

export function jobsApi(ctx: FarmContext, hub: JobEventHub) {
  return new Hono<ApiEnv>()
    .post('/', async (c) => {
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        throw new ApiError('invalid_request', 'the body is not valid JSON');
      }
      const { job, replayed } = await submitJob(ctx, c.get('principal'), body, c.req.header('idempotency-key'));
      if (replayed) c.header('Idempotent-Replayed', 'true');
      c.header('Location', job.urls.get);
      return c.json(job, 201);
    })
    .get('/', async (c) => c.json(await listJobs(ctx, c.get('principal'), c.req.query())))
    .get('/:id', async (c) => c.json(await jobWithUsage(ctx, await getJobRow(ctx, c.get('principal'), c.req.param('id')))))
    .post('/:id/cancel', async (c) => c.json(await cancelJob(ctx, c.get('principal'), c.req.param('id'))))
    .post('/:id/retry', async (c) => c.json(await retryJob(ctx, c.get('principal'), c.req.param('id')), 201))
    // Render jobs: pause (no new task starts), resume, their tasks, and requeue one.
    .post('/:id/pause', async (c) => c.json(await jobWithUsage(ctx, await pauseRender(ctx, await getJobRow(ctx, c.get('principal'), c.req.param('id'))))))
    .post('/:id/resume', async (c) => c.json(await jobWithUsage(ctx, await resumeRender(ctx, await getJobRow(ctx, c.get('principal'), c.req.param('id'))))))
    .get('/:id/tasks', async (c) => {
      const row = await getJobRow(ctx, c.get('principal'), c.req.param('id'));
      if (row.kind !== 'render') throw new ApiError('not_found', `job ${row.id} is a ${row.kind} job; only render jobs have tasks`);
      return c.json({ results: await listTasks(ctx, row.id) });
    })
    // One task's log: its runs only (the job's log holds every task's, each line with its attempt).
    .get('/:id/tasks/:index/logs', async (c) => {
      const row = await getJobRow(ctx, c.get('principal'), c.req.param('id'));
      const index = Number(c.req.param('index'));
      if (row.kind !== 'render' || !Number.isInteger(index) || index < 0 || index > 1_000_000) throw new ApiError('not_found', `job ${row.id} has no task ${c.req.param('index')}`);
      c.header('Content-Type', 'text/plain; charset=utf-8');
      return c.body((await readLogs(ctx, row.id, { from: (index + 1) * 1000, to: (index + 1) * 1000 + 999 })).map(formatLogLine).join(''));
    })
    .post('/:id/tasks/:index/requeue', async (c) => {
      const row = await getJobRow(ctx, c.get('principal'), c.req.param('id'));
      const index = Number(c.req.param('index'));
      if (!Number.isInteger(index) || index < 0 || index > 1_000_000) throw new ApiError('invalid_request', 'the task index must be a whole number (see GET /v1/jobs/{id}/tasks)');
      return c.json(taskView(await requeueTask(ctx, row, index)));
    })
    // A job's outputs by their relative names, so a master playlist's relative URIs resolve.
    .on(['GET', 'HEAD'], '/:id/outputs/*', async (c) => {
      const row = await getJobRow(ctx, c.get('principal'), c.req.param('id'));
      const name = decodeURIComponent(c.req.path.slice(c.req.path.indexOf('/outputs/') + '/outputs/'.length));
      const file = await findOutput(ctx, row, name);
      if (!file) throw new ApiError('not_found', `job ${row.id} has no output ${name}`);
      return serveFile(c, ctx, file);
    })
    .get('/:id/attempts', async (c) => c.json({ results: await listAttempts(ctx, await getJobRow(ctx, c.get('principal'), c.req.param('id'))) }))
    .get('/:id/logs', async (c) => {
      const row = await getJobRow(ctx, c.get('principal'), c.req.param('id'));
      c.header('Content-Type', 'text/plain; charset=utf-8');
      const follow = c.req.query('follow') === 'true' || c.req.query('follow') === '1';
      if (!follow) return c.body((await readLogs(ctx, row.id)).map(formatLogLine).join(''));
      // Follow like `tail -f`: what is there, then new lines until the job ends.
      return stream(c, async (out) => {
        const live: string[] = [];
        let ended = isTerminal(row.status);
        let wake: () => void = () => {};
        const stop = await hub.follow(row.id, (e) => {
          if (e.type === 'log') {
            const d = e.data as { attempt: number; lines: Parameters<typeof formatLogLine>[0]['line'][] };
            for (const line of d.lines) live.push(formatLogLine({ attempt: d.attempt, line }));
          }
          if (e.type === 'status' && isTerminal((e.data as { status: string }).status)) ended = true;
          wake();
        });
        out.onAbort(() => {
          ended = true;
          wake();
        });
        try {
          for (const entry of await readLogs(ctx, row.id)) await out.write(formatLogLine(entry));
          live.length = 0; // anything published meanwhile is already in what was read
          while (!ended || live.length) {
            while (live.length) await out.write(live.shift()!);
            if (ended) break;
            await new Promise<void>((r) => {
              wake = r;
              setTimeout(r, 15_000);
            });
          }
        } finally {
          await stop();
        }
      });
    })
    .get('/:id/events', async (c) => {
      const row = await getJobRow(ctx, c.get('principal'), c.req.param('id'));
      return streamSSE(c, async (sse) => {
        const queue: JobEvent[] = [];
        let wake: () => void = () => {};
        let closed = false;
        const stop = await hub.follow(row.id, (e) => {
          queue.push(e);
          wake();
        });
        sse.onAbort(() => {
          closed = true;
          wake();
        });
        let id = 0;
        const send = (event: string, data: unknown) => sse.writeSSE({ event, data: JSON.stringify(data), id: String(++id) });
        try {
          // The current state first, so a client that connects late knows where the job stands.
          const snapshot = await jobWithUsage(ctx, await getJobRow(ctx, c.get('principal'), row.id));
          await send('status', { status: snapshot.status, progress: snapshot.progress });
          for (const entry of await readLogs(ctx, row.id)) await send('log', { attempt: entry.attempt, lines: [entry.line] });
          let status: JobStatus = snapshot.status;
          while (!closed && !isTerminal(status)) {
            if (!queue.length) {
              await new Promise<void>((r) => {
                wake = r;
                setTimeout(r, 15_000);
              });
              if (!queue.length && !closed) await sse.writeSSE({ event: 'ping', data: '{}' }); // keeps proxies from closing an idle stream
              continue;
            }
            const e = queue.shift()!;
            await send(e.type, e.data);
            if (e.type === 'status') status = (e.data as { status: JobStatus }).status;
          }
          if (!closed) {
            const final = await jobWithUsage(ctx, await getJobRow(ctx, c.get('principal'), row.id));
            if (final.outputs.length) await send('output', final.outputs);
            await send('done', final); // Replicate's streams end with `done`
          }
        } finally {
          await stop();
        }
      });
    });
}
