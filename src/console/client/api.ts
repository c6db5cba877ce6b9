/**
 * The console talks to the farm like any client: `/v1` with the API key as a bearer. The key lives
 * in this tab's sessionStorage (gone when the tab closes) and never in a URL. Live data comes over
 * SSE read with fetch, because EventSource cannot send an Authorization header.
 */
const KEY = 'malan.key';

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const session = {
  key: (): string | null => sessionStorage.getItem(KEY),
  save: (key: string) => sessionStorage.setItem(KEY, key),
  forget: () => sessionStorage.removeItem(KEY),
};

function headers(extra?: HeadersInit): Headers {
  const out = new Headers(extra);
  const key = session.key();
  if (key) out.set('Authorization', `Bearer ${key}`);
  return out;
}

async function failure(res: Response): Promise<ApiFailure> {
  const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
  return new ApiFailure(res.status, body?.error?.code ?? 'http_error', body?.error?.message ?? `${res.status} ${res.statusText}`);
}

export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(path, { ...init, headers: headers(init.headers) });
  if (!res.ok) throw await failure(res);
  return (res.status === 204 ? null : await res.json()) as T;
}

/** The response as a file the browser saves (invoices as CSV or HTML need the key, so no plain link). */
export async function download(path: string, filename: string): Promise<void> {
  const res = await fetch(path, { headers: headers() });
  if (!res.ok) throw await failure(res);
  const url = URL.createObjectURL(await res.blob());
  const a = Object.assign(document.createElement('a'), { href: url, download: filename });
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export type StreamEvent = { event: string; data: unknown };

/**
 * Follows an SSE stream until `signal` aborts or the server ends it. Reconnects after a dropped
 * connection (an API restart, a proxy timeout) with a growing pause; `onState` says which.
 */
export async function follow(path: string, onEvent: (e: StreamEvent) => void, signal: AbortSignal, onState: (s: 'live' | 'reconnecting' | 'ended') => void = () => {}): Promise<void> {
  let pause = 1000;
  while (!signal.aborted) {
    try {
      const res = await fetch(path, { headers: headers({ Accept: 'text/event-stream' }), signal });
      if (!res.ok || !res.body) throw await failure(res);
      onState('live');
      pause = 1000;
      await readEvents(res.body, onEvent);
      onState('ended');
      return; // the server ended the stream: the thing it followed is over
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof ApiFailure && err.status >= 400 && err.status < 500) throw err; // retrying cannot help
      onState('reconnecting');
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 15_000);
    }
  }
}

async function readEvents(body: ReadableStream<Uint8Array>, onEvent: (e: StreamEvent) => void): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (!data.length) continue;
      try {
        onEvent({ event, data: JSON.parse(data.join('\n')) });
      } catch {
        /* a malformed event is skipped; the next snapshot replaces it */
      }
    }
  }
}
