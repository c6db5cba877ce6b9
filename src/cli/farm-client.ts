/**
 * The client commands' one door to the API: every request carries the key, an error answer
 * (`{"error": {"code", "message"}}`) becomes an `ApiResponseError`, and a host that cannot be
 * reached becomes an `UnreachableError` naming the URL and where it came from.
 */
import type { ClientConfig } from './client-config.js';

/** The API answered with an error status. Printed as `<message> (HTTP <status> <code>)`. */
export class ApiResponseError extends Error {
  /** A second line for the person: where the refused key came from. */
  hint?: string;

  constructor(
    readonly status: number,
    readonly code: string | null,
    readonly apiMessage: string,
  ) {
    super(`${apiMessage} (HTTP ${status}${code ? ` ${code}` : ''})`);
  }
}

export class UnreachableError extends Error {}

export class FarmClient {
  constructor(readonly config: ClientConfig) {}

  url(pathAndQuery: string): string {
    return `${this.config.apiUrl}${pathAndQuery}`;
  }

  /** The response when its status is 2xx; throws otherwise. `signal` aborts are passed on as they are. */
  async request(pathAndQuery: string, init: { method?: string; headers?: Record<string, string>; body?: BodyInit; signal?: AbortSignal } = {}): Promise<Response> {
    const url = this.url(pathAndQuery);
    let res: Response;
    try {
      res = await fetch(url, {
        ...init,
        headers: { authorization: `Bearer ${this.config.key}`, ...init.headers },
        // Streamed request bodies (uploads) need half duplex in Node's fetch.
        ...(init.body !== undefined && { duplex: 'half' }),
      } as RequestInit);
    } catch (err) {
      if (init.signal?.aborted) throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new UnreachableError(`cannot reach ${url} (${why}); the API URL came from ${this.config.apiUrlFrom}`);
    }
    if (!res.ok) {
      const error = await responseError(res);
      if (res.status === 401) error.hint = `the key came from ${this.config.keyFrom}`;
      throw error;
    }
    return res;
  }

  async getJson<T>(pathAndQuery: string): Promise<T> {
    return (await (await this.request(pathAndQuery)).json()) as T;
  }

  async postJson<T>(pathAndQuery: string, body: unknown, headers: Record<string, string> = {}): Promise<{ body: T; headers: Headers }> {
    const res = await this.request(pathAndQuery, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return { body: (await res.json()) as T, headers: res.headers };
  }
}

async function responseError(res: Response): Promise<ApiResponseError> {
  const text = await res.text().catch(() => '');
  try {
    const { error } = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (error && typeof error.message === 'string') return new ApiResponseError(res.status, typeof error.code === 'string' ? error.code : null, error.message);
  } catch {
    /* not the API's JSON: a proxy's page, say */
  }
  const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 200);
  return new ApiResponseError(res.status, null, snippet || res.statusText || 'the API answered with an error');
}
