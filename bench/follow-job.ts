/**
 * Follows a job over its SSE stream (GET /v1/jobs/{id}/events) and notes, on this process's
 * performance.now() clock, when the client first learned that the job was running and when it
 * learned that it ended. SSE instead of polling: a 100 ms poll would blur a 10 ms measure.
 */
const TERMINAL = ['succeeded', 'failed', 'canceled'];

export interface FollowedJob {
  /** When a `running` status arrived; null when the stream never said so (the job was already done). */
  runningAt: number | null;
  /** True when `running` came from the stream's first snapshot: the job ran before we listened, so runningAt is late. */
  runningFromSnapshot: boolean;
  /** When a terminal status arrived. */
  terminalAt: number;
  status: string;
}

export async function followJob(baseUrl: string, key: string, jobId: string, timeoutMs: number): Promise<FollowedJob> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error(`job ${jobId} did not end within ${timeoutMs} ms`)), timeoutMs);
  try {
    const res = await fetch(`${baseUrl}/v1/jobs/${jobId}/events`, {
      headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' },
      signal: abort.signal,
    });
    if (!res.ok || !res.body) throw new Error(`GET /v1/jobs/${jobId}/events: HTTP ${res.status}`);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let first = true;
    let runningAt: number | null = null;
    let runningFromSnapshot = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the event stream of ${jobId} closed before the job ended`);
      const now = performance.now();
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = parseEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (event.type !== 'status') continue;
        const status = (JSON.parse(event.data) as { status: string }).status;
        if (status === 'running' && runningAt === null) {
          runningAt = now;
          runningFromSnapshot = first;
        }
        first = false;
        if (TERMINAL.includes(status)) {
          await reader.cancel().catch(() => undefined);
          return { runningAt, runningFromSnapshot, terminalAt: now, status };
        }
      }
    }
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

function parseEvent(block: string): { type: string; data: string } {
  let type = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) type = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  return { type, data: data.join('\n') };
}
