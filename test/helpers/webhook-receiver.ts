/** A local HTTP server that records the webhooks it receives, for tests that check deliveries. */
import http from 'node:http';

export interface ReceivedHook {
  headers: http.IncomingHttpHeaders;
  body: string;
}

export async function webhookReceiver(): Promise<{ url: string; hooks: ReceivedHook[]; waitFor(n: number, timeoutMs?: number): Promise<ReceivedHook[]>; close(): void }> {
  const hooks: ReceivedHook[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      hooks.push({ headers: req.headers, body });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`,
    hooks,
    async waitFor(n, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (hooks.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      return hooks;
    },
    close: () => server.close(),
  };
}
