/** A small client for tests and the bench: JSON in, JSON out, the key in the header. */
export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** `fetchFn` lets in-process tests send the requests to `app.request` instead of the network. */
export function apiClient(baseUrl: string, key: string | null, fetchFn: (url: string, init: RequestInit) => Promise<Response> = fetch) {
  const call = async <T = any>(method: string, path: string, opts: { json?: unknown; body?: BodyInit; headers?: Record<string, string> } = {}): Promise<ApiResponse<T>> => {
    const headers: Record<string, string> = { ...(key && { authorization: `Bearer ${key}` }), ...opts.headers };
    let body = opts.body;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    }
    const res = await fetchFn(`${baseUrl}${path}`, { method, headers, body, duplex: 'half' } as RequestInit);
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  };
  return {
    call,
    get: <T = any>(path: string) => call<T>('GET', path),
    post: <T = any>(path: string, json?: unknown, headers?: Record<string, string>) => call<T>('POST', path, { json, headers }),
    upload: <T = any>(data: BodyInit | Uint8Array, contentType = 'application/octet-stream', name?: string) =>
      call<T>('POST', `/v1/files${name ? `?name=${encodeURIComponent(name)}` : ''}`, { body: data as BodyInit, headers: { 'content-type': contentType } }),
  };
}

export type ApiClient = ReturnType<typeof apiClient>;

/** Polls a job until it is terminal. */
export async function waitForJob(api: ApiClient, id: string, timeoutMs = 120_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await api.get(`/v1/jobs/${id}`);
    if (['succeeded', 'failed', 'canceled'].includes(body.status)) return body;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${body.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
