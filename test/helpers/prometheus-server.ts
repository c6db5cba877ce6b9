/**
 * A real Prometheus server for tests (a child process scraping one target every second) and
 * promtool's lint. Both come from Debian's `prometheus` package; CI installs it (.ci/run,
 * scripts/test.mjs), and a machine without it fails the tests that need it, saying so.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface QueryResponse {
  status: 'success' | 'error';
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
  errorType?: string;
  error?: string;
}

export interface PrometheusServer {
  url: string;
  query(expr: string): Promise<QueryResponse>;
  /** Polls `expr` until `done` holds; on timeout throws with the last answer, the scrape's state and Prometheus's stderr. */
  waitFor(expr: string, done?: (r: QueryResponse) => boolean, timeoutMs?: number): Promise<QueryResponse>;
  stop(): Promise<void>;
}

/** What to install, or null when both binaries are on PATH. */
export function prometheusMissing(): string | null {
  const absent = (['prometheus', 'promtool'] as const).filter((name) => spawnSync('sh', ['-c', `command -v ${name}`]).status !== 0);
  return absent.length ? `${absent.join(' and ')} not on PATH: apt-get install prometheus (Debian's package ships both)` : null;
}

/** Throws, rather than skipping, so that a machine without the package cannot pass by testing less. */
function requirePrometheus(): void {
  const missing = prometheusMissing();
  if (missing) throw new Error(missing);
}

/** `promtool check metrics` on a scrape's text: its exit code and every line it printed. */
export function promtoolCheckMetrics(text: string): { code: number | null; lines: string[] } {
  requirePrometheus();
  const res = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { code: res.status, lines: `${res.stdout}${res.stderr}`.split('\n').filter((l) => l.trim() !== '') };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts Prometheus scraping `target` (host:port) at `/metrics`, without authorization (the farm's /metrics takes none). */
export async function startPrometheus(target: string): Promise<PrometheusServer> {
  requirePrometheus();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'malan-prometheus-'));
  const config = path.join(dir, 'prometheus.yml');
  // The timeout may not exceed the interval, and Prometheus's 10 s default would.
  writeFileSync(
    config,
    ['global:', '  scrape_interval: 1s', '  scrape_timeout: 1s', '  evaluation_interval: 1s', 'scrape_configs:', '  - job_name: malan', '    metrics_path: /metrics', '    static_configs:', `      - targets: ['${target}']`, ''].join('\n'),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + String(chunk)).slice(-6000)));
  let exit: string | null = null;
  const exited = new Promise<void>((resolve) => child.once('exit', (code, signal) => ((exit = `exited (${signal ?? code})`), resolve())));
  child.once('error', (err) => (exit = `did not start: ${err.message}`));

  const query = async (expr: string) => (await (await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as QueryResponse;
  const scrapeState = async () => {
    const targets = (await (await fetch(`${url}/api/v1/targets`)).json()) as { data: { activeTargets: Array<{ scrapeUrl: string; health: string; lastError: string }> } };
    return JSON.stringify(targets.data.activeTargets.map((t) => ({ url: t.scrapeUrl, health: t.health, lastError: t.lastError })));
  };
  const tail = () => stderr.split('\n').slice(-15).join('\n');

  return {
    url,
    query,
    async waitFor(expr, done = (r) => (r.data?.result.length ?? 0) > 0, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let last: QueryResponse | string = 'no answer yet';
      for (;;) {
        if (exit) throw new Error(`prometheus ${exit} before answering ${expr}; its stderr:\n${tail()}`);
        try {
          const r = await query(expr);
          if (done(r)) return r;
          last = r;
        } catch (err) {
          last = `not answering: ${(err as Error).message}`; // still starting
        }
        if (Date.now() > deadline) {
          const scrape = await scrapeState().catch((err: Error) => `unknown (${err.message})`);
          throw new Error(`prometheus at ${url} gave no result for ${expr} within ${timeoutMs / 1000} s.\nlast answer: ${JSON.stringify(last)}\nscrape targets: ${scrape}\nits stderr:\n${tail()}`);
        }
        await sleep(250);
      }
    },
    async stop() {
      if (!exit) {
        child.kill('SIGTERM');
        const killed = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(killed);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
