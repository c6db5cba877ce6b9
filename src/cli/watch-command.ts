/**
 * `malan watch JOB_ID`: follows `GET /v1/jobs/{id}/events` until `done`. The stream starts with
 * the job's current status and its log so far, so a job that has already ended ends the watch at
 * once. A stream that drops (or goes quiet past the server's 15 s pings) is reconnected once; log
 * lines it sends again are not printed twice.
 */
import { ApiResponseError, type FarmClient } from './farm-client.js';
import { ProgressView, type ProgressOutput } from './progress-bar.js';
import { readSse } from './sse-reader.js';

export interface JobView {
  id: string;
  kind: string;
  name?: string | null;
  status: string;
  progress: number;
  outputs: Array<{ file: string; role: string; name?: string; size?: number }>;
  error: { code: string; message: string } | null;
  usage: { wall_seconds: number; cpu_seconds: number; gpu_seconds: number };
  execution: { path?: string } | null;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
}

export interface WatchOptions {
  logs: boolean;
  /** Print the finished job as JSON on stdout. */
  json: boolean;
  stdout: { write(text: string): unknown };
  stderr: ProgressOutput;
}

/** No bytes for this long (the server pings every 15 s) and the stream counts as dropped. */
const IDLE_MS = 45_000;

/** 0 when the job succeeded, 1 when it failed or was canceled. */
export async function watchJob(client: FarmClient, jobId: string, opts: WatchOptions): Promise<number> {
  const first = await client.request(`/v1/jobs/${encodeURIComponent(jobId)}`);
  const job = (await first.json()) as JobView;
  // The job's times are the server's clock: measure against it, not this host's.
  const serverDate = Date.parse(first.headers.get('date') ?? '');
  const skew = Number.isFinite(serverDate) ? serverDate - Date.now() : 0;
  // The clock counts from the start (or, while queued, from submission) to the end.
  let since = Date.parse(job.started_at ?? job.created_at);
  let until = job.completed_at ? Date.parse(job.completed_at) : null;
  const view = new ProgressView(opts.stderr, () => ((until ?? Date.now() + skew) - since) / 1000);
  let status = job.status;
  let progress = job.progress;
  const seen = new Set<string>();
  const stop = () => {
    view.finish();
    opts.stderr.write(`malan: stopped watching; ${jobId} goes on (malan watch ${jobId})\n`);
    process.exit(130);
  };
  process.once('SIGINT', stop);
  try {
    for (let connection = 1; ; connection++) {
      const dropped = await follow(client, jobId, (event, data) => {
        switch (event) {
          case 'status': {
            const d = data as { status: string; progress?: number };
            if (d.status === 'running' && status !== 'running' && !job.started_at) since = Date.now() + skew;
            status = d.status;
            if (typeof d.progress === 'number') progress = d.progress;
            if (status === 'succeeded') progress = 1;
            break;
          }
          case 'progress':
            progress = (data as { progress: number }).progress;
            break;
          case 'log': {
            const d = data as { attempt: number; lines: Array<{ t: string; level: string; msg: string }> };
            for (const line of d.lines ?? []) {
              const text = `${line.t} attempt=${d.attempt} ${line.level.toUpperCase().padEnd(5)} ${line.msg}`;
              if (seen.has(text)) continue; // sent again after a reconnect
              seen.add(text);
              if (opts.logs) view.print(text);
            }
            return;
          }
          case 'task': {
            // A render's tasks: a failure always (another worker retries it), the rest with --logs.
            const d = data as { index: number; status: string; error?: { message: string } };
            if (d.status === 'failed' || (opts.logs && d.status !== 'active')) view.print(`task ${d.index} ${d.status}${d.error ? `: ${d.error.message}` : ''}`);
            return;
          }
          default:
            return; // `output` comes again in `done`; `ping` keeps the stream open
        }
        view.update(status, progress);
      });
      if (typeof dropped !== 'string') {
        if (dropped.started_at) since = Date.parse(dropped.started_at);
        if (dropped.completed_at) until = Date.parse(dropped.completed_at);
        return finish(dropped, view, opts);
      }
      if (connection === 2) throw new Error(`the event stream of ${jobId} dropped again before the job ended (${dropped}); it goes on: malan watch ${jobId}`);
      view.print(`malan: the event stream dropped (${dropped}); reconnecting`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  } finally {
    process.off('SIGINT', stop);
    view.finish();
  }
}

/** The finished job from `done`, or why the stream ended before it. */
async function follow(client: FarmClient, jobId: string, onEvent: (event: string, data: unknown) => void): Promise<JobView | string> {
  const idle = new AbortController();
  let timer = setTimeout(() => idle.abort(), IDLE_MS);
  const alive = () => {
    clearTimeout(timer);
    timer = setTimeout(() => idle.abort(), IDLE_MS);
  };
  try {
    const res = await client.request(`/v1/jobs/${encodeURIComponent(jobId)}/events`, { headers: { accept: 'text/event-stream' }, signal: idle.signal });
    if (!res.body) return 'the response had no body';
    const body = res.body as unknown as AsyncIterable<Uint8Array>;
    const counted = (async function* () {
      for await (const chunk of body) {
        alive();
        yield chunk;
      }
    })();
    for await (const e of readSse(counted)) {
      const data = JSON.parse(e.data) as unknown;
      if (e.event === 'done') return data as JobView;
      onEvent(e.event, data);
    }
    return 'the server closed it';
  } catch (err) {
    if (idle.signal.aborted) return `nothing for ${IDLE_MS / 1000} s`;
    // A refusal (no such job, a bad key) is final; a proxy's 502 while the API restarts is a drop.
    if (err instanceof ApiResponseError && err.status < 500) throw err;
    if (err instanceof SyntaxError) return `an event was not JSON: ${err.message}`;
    return (err as Error).message;
  } finally {
    clearTimeout(timer);
    idle.abort(); // closes the connection if it is still open
  }
}

function finish(job: JobView, view: ProgressView, opts: WatchOptions): number {
  view.update(job.status, job.progress);
  view.finish();
  if (opts.json) opts.stdout.write(`${JSON.stringify(job)}\n`);
  if (job.status === 'succeeded') {
    const took = job.started_at && job.completed_at ? ` in ${((Date.parse(job.completed_at) - Date.parse(job.started_at)) / 1000).toFixed(1)} s` : '';
    const path = job.execution?.path ? ` on the ${job.execution.path} path` : '';
    const outputs = job.outputs.length ? `; ${job.outputs.length} output${job.outputs.length === 1 ? '' : 's'} (malan download ${job.id})` : '';
    opts.stderr.write(`${job.id} succeeded${took}${path}${outputs}\n`);
    return 0;
  }
  const error = job.error ? `${job.error.message} (${job.error.code})` : 'no error was recorded';
  opts.stderr.write(`malan: job ${job.id} ${job.status}: ${error}\n`);
  return 1;
}
