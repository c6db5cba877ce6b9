/**
 * /metrics as Prometheus itself reads it: promtool's lint, a real Prometheus server scraping the
 * API over HTTP, and every query of the Grafana dashboard (docs/grafana/malan-farm.json) run on
 * that server. No GPU here: the GPU readings are a RECORDED real `nvidia-smi -q -x` output (a Tesla
 * T4, ../shared/assets/nvidia-smi) read by the workers' own parser and put in a faked worker
 * heartbeat, exactly where a live worker would put its reading.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { packageRoot } from '../../src/paths.js';
import { parseNvidiaSmiXml } from '../../workers/probe/nvidia-smi.js';
import { apiHarness, type Harness } from '../helpers/api-harness.js';
import { seedMetricsFarm } from '../helpers/metrics-farm.js';
import { prometheusMissing, promtoolCheckMetrics, startPrometheus, type PrometheusServer } from '../helpers/prometheus-server.js';
import { ASSETS } from '../helpers/test-env.js';

const HOST = 'gpu-host-1';
const t4 = parseNvidiaSmiXml(readFileSync(path.join(ASSETS, 'nvidia-smi/tesla-t4.xml'), 'utf8'))[0]!;

/** Above a few of the helper's 30 s waits, so that a failing one reports its own message (its scrape state, Prometheus's stderr). */
const WAITS = 120_000;

let h: Harness;
let server: ServerType | undefined;
let metricsUrl: string;
let prom: PrometheusServer | undefined;
// Not a skip: on a machine without Prometheus every test here fails, saying what to install.
const missing = prometheusMissing();
const prometheus = (): PrometheusServer => {
  if (missing) throw new Error(missing);
  return prom!;
};

beforeAll(async () => {
  h = await apiHarness();
  // A live worker on a T4 (recorded reading), an ended job that stepped down to the CPU, one queued.
  await seedMetricsFarm(h, { hostname: HOST, gpus: [t4], fallbacks: [{ path: 'nvdec-nvenc', reason: 'planned', error: '[h264_nvenc] OpenEncodeSessionEx failed: out of memory (10): (no details)' }] });

  // The harness answers in-process; Prometheus needs a socket, so the same app is served on one.
  const listening = new Promise<AddressInfo>((resolve) => (server = serve({ fetch: h.app.fetch, hostname: '127.0.0.1', port: 0 }, resolve)));
  const { port } = await listening;
  metricsUrl = `http://127.0.0.1:${port}/metrics`;
  if (!missing) prom = await startPrometheus(`127.0.0.1:${port}`);
});

afterAll(async () => {
  await prom?.stop();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await h?.close();
});

it('serves /metrics that promtool check metrics accepts, but for the DCGM exporter\'s own camelCase label', async () => {
  const { code, lines } = promtoolCheckMetrics(await (await fetch(metricsUrl)).text());
  // `modelName` is how the DCGM exporter spells it and what its dashboards select on: kept on purpose.
  const dcgmLabel = /^DCGM_FI_DEV_\w+ label names should be written in 'snake_case' not 'camelCase'$/;
  expect(lines.filter((l) => !dcgmLabel.test(l))).toEqual([]);
  expect(code === 0 || (code === 3 && lines.length > 0)).toBe(true); // 3: lint findings only; 1 would be text it cannot parse
});

it('is scraped by a real Prometheus, which answers for queue depths and for GPU readings recorded from a real nvidia-smi (no GPU here)', async () => {
  const queued = await prometheus().waitFor('malan_queue_jobs{queue="transcode",state="prioritized"}');
  expect(queued.data!.result.map((r) => r.value[1])).toEqual(['2']);
  const temp = await prometheus().waitFor(`DCGM_FI_DEV_GPU_TEMP{Hostname="${HOST}"}`);
  expect(temp.data!.result).toHaveLength(1);
  expect(temp.data!.result[0]!.metric).toMatchObject({ gpu: '0', UUID: t4.uuid, modelName: t4.name, job: 'malan' });
  expect(Number(temp.data!.result[0]!.value[1])).toBe(t4.temperatureC);
  const fallbacks = await prometheus().waitFor('malan_fallbacks_total');
  expect(fallbacks.data!.result.map((r) => [r.metric.path, r.metric.reason, r.value[1]])).toEqual([['nvdec-nvenc', 'encoder_sessions', '1']]);
}, WAITS);

interface Panel {
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Array<{ expr: string; refId: string; datasource?: { uid: string } }>;
}
const dashboard = JSON.parse(readFileSync(path.join(packageRoot, 'docs/grafana/malan-farm.json'), 'utf8')) as {
  schemaVersion: number;
  __inputs: Array<{ name: string; type: string; pluginId: string }>;
  templating: { list: Array<{ name: string; query: { query: string } | string; datasource: { uid: string } }> };
  panels: Panel[];
};
const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

/** The farm's metric names in a PromQL expression: identifiers outside strings, label sets, groupings and ranges that call nothing. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ');
  return [...bare.matchAll(/\b([a-zA-Z_:][\w:]*)\b(?!\s*\()/g)].map((m) => m[1]!).filter((n) => !/^(by|without|bool|offset|and|or|unless)$/.test(n));
}

/** Grafana's variables as a dashboard viewer would have them: one host picked, a one-minute rate window. */
function concrete(expr: string): string {
  const values: Record<string, string> = { Hostname: HOST, __rate_interval: '1m', __interval: '15s', __range: '5m' };
  return expr.replace(/\$\{?(\w+)\}?/g, (_, name: string) => {
    if (!(name in values)) throw new Error(`the dashboard uses $${name}, which this test does not know a value for`);
    return values[name]!;
  });
}

it('has an importable Grafana dashboard whose every panel query names metrics the farm exposes and runs on Prometheus', async () => {
  expect(dashboard.schemaVersion).toBe(39);
  expect(dashboard.__inputs).toContainEqual(expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' }));
  const hostVar = dashboard.templating.list.find((v) => v.name === 'Hostname')!;
  expect(hostVar.query).toMatchObject({ query: 'label_values(DCGM_FI_DEV_GPU_UTIL, Hostname)' });
  // A hard-wired datasource uid would point at nothing on another Grafana; the import fills the input in.
  for (const p of dashboard.panels.filter((p) => p.type !== 'row')) {
    expect([p.title, p.datasource?.uid, ...(p.targets ?? []).map((t) => t.datasource?.uid)]).toEqual([p.title, '${DS_PROMETHEUS}', ...(p.targets ?? []).map(() => '${DS_PROMETHEUS}')]);
  }

  const text = await (await fetch(metricsUrl)).text();
  const families = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
  const familyOf = (name: string) => {
    const base = name.replace(/_(bucket|sum|count)$/, '');
    return families.has(name) ? name : families.get(base) === 'histogram' ? base : undefined;
  };
  const used = queries.flatMap((q) => metricNames(q.expr).map((name) => ({ ...q, name, family: familyOf(name) })));
  expect(used.filter((u) => !u.family)).toEqual([]);
  expect(new Set(used.map((u) => u.family))).toEqual(
    new Set([
      'malan_queue_jobs', 'malan_job_wait_seconds', 'malan_job_run_seconds', 'malan_jobs', 'malan_workers_up', 'malan_worker_running_jobs', 'malan_fallbacks_total',
      'DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_FB_USED', 'DCGM_FI_DEV_FB_FREE', 'DCGM_FI_DEV_ENC_UTIL', 'DCGM_FI_DEV_DEC_UTIL', 'DCGM_FI_DEV_POWER_USAGE', 'DCGM_FI_DEV_GPU_TEMP',
      'malan_http_requests_total', 'malan_http_request_duration_seconds', 'malan_billed_amount_total',
      'malan_live_segment_latency_seconds', 'malan_live_deadline_misses_total', 'malan_live_realtime_factor',
    ]),
  );

  // The host picker's values: Grafana asks Prometheus for this label of this metric.
  await prometheus().waitFor(`DCGM_FI_DEV_GPU_UTIL{Hostname="${HOST}"}`);
  const hosts = (await (await fetch(`${prometheus().url}/api/v1/label/Hostname/values?match[]=DCGM_FI_DEV_GPU_UTIL`)).json()) as { data: string[] };
  expect(hosts.data).toEqual([HOST]);

  // Every query is valid PromQL and, once a few scrapes are in (rates need two), shows the farm's data.
  for (const q of queries) {
    const first = await prometheus().query(concrete(q.expr));
    expect({ panel: q.panel, expr: q.expr, status: first.status, error: first.error }).toEqual({ panel: q.panel, expr: q.expr, status: 'success', error: undefined });
    await prometheus().waitFor(concrete(q.expr));
  }
}, WAITS);
