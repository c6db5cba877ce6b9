/**
 * The client side of `malan`, for studios and operators: login, submit, watch, jobs, download,
 * usage, invoice. These speak HTTP to an API on any host (client-config.ts says where it and the
 * key come from) and never touch the farm's database. Exit status: 0 done, 1 an error (the API's,
 * the network's, or a job that failed), 2 a command line that is wrong.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { configFilePath, normalizeApiUrl, resolveClientConfig, runningServeUrl, writeConfigFile } from './client-config.js';
import { downloadOutputs } from './download-command.js';
import { ApiResponseError, FarmClient } from './farm-client.js';
import { percent } from './progress-bar.js';
import { formatBytes, prepareSubmit, submit } from './submit-command.js';
import { formatTable } from './text-table.js';
import { UsageError } from './usage-error.js';
import { watchJob, type JobView } from './watch-command.js';

export const CLIENT_USAGE = {
  login: 'login --api URL --key KEY',
  submit: 'submit KIND [--input FILE.json] [--set key=value …] [--file PATH …] [--name LABEL] [--wait [--logs]] [--idempotency-key K] [--json]',
  watch: 'watch JOB_ID [--logs] [--json]',
  jobs: 'jobs [--kind K] [--status S] [--search TEXT] [--limit N] [--json]',
  download: 'download JOB_ID [--dir DIR] [--role ROLE]',
  usage: 'usage [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--group-by day,meter] [--tenant T] [--json]',
  invoice: 'invoice YYYY-MM [--format json|csv|html] [--out FILE] [--tenant T]',
} as const;
export type ClientCommand = keyof typeof CLIENT_USAGE;

const COMMON = { api: { type: 'string' }, key: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;

export async function runClientCommand(command: ClientCommand, args: string[]): Promise<number> {
  // `malan jobs | head`: a reader that leaves early is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => err.code === 'EPIPE' && process.exit(0));
  try {
    return await COMMANDS[command](args);
  } catch (err) {
    const e = err as Error & { code?: string; hint?: string };
    if (err instanceof UsageError || e.code?.startsWith('ERR_PARSE_ARGS_')) {
      say(`malan: ${e.message}\nusage: malan ${CLIENT_USAGE[command]}`);
      return 2;
    }
    say(`malan: ${e.message}`);
    if (err instanceof ApiResponseError && err.hint) say(`malan: ${err.hint}`);
    return 1;
  }
}

const COMMANDS: Record<ClientCommand, (args: string[]) => Promise<number>> = {
  async login(args) {
    const { values } = parse('login', parseArgs({ args, options: COMMON, allowPositionals: true }), 0);
    if (!values.key) throw new UsageError('login needs --key KEY (an operator makes one with `malan keys create --tenant NAME`)');
    const [raw, from] = values.api ? [values.api, '--api'] : process.env.MALAN_API_URL ? [process.env.MALAN_API_URL, 'MALAN_API_URL'] : [runningServeUrl(path.resolve(process.env.MALAN_HOME || '.malan')), 'the running malan serve'];
    if (!raw) throw new UsageError('login needs --api URL (e.g. --api http://farm.example:8080)');
    const apiUrl = normalizeApiUrl(raw, from);
    // Saved only once the API has taken the key: a typo fails now, not at the next submit.
    await new FarmClient({ apiUrl, key: values.key, apiUrlFrom: from, keyFrom: '--key' }).getJson('/v1/jobs?limit=1');
    const file = configFilePath();
    writeConfigFile(file, { api_url: apiUrl, api_key: values.key });
    say(`the API at ${apiUrl} took the key; saved both to ${file} (mode 600)`);
    return 0;
  },

  async submit(args) {
    const { values, positionals } = parse('submit', parseArgs({ args, allowPositionals: true, options: {
      ...COMMON,
      input: { type: 'string' },
      set: { type: 'string', multiple: true },
      file: { type: 'string', multiple: true },
      wait: { type: 'boolean' },
      logs: { type: 'boolean' },
      'idempotency-key': { type: 'string' },
      name: { type: 'string' },
      json: { type: 'boolean' },
    } }), 1);
    // Checked before any upload, as the API would refuse it after.
    if (values.name !== undefined && (!values.name.trim() || values.name.trim().length > 200)) throw new UsageError('--name must be 1 to 200 characters');
    const prepared = await prepareSubmit({ kind: positionals[0], inputFile: values.input, sets: values.set ?? [], files: values.file ?? [] });
    const client = clientFor(values);
    const { job, replayed } = await submit(client, prepared, { idempotencyKey: values['idempotency-key'], name: values.name, say });
    say(replayed ? `this Idempotency-Key already made ${job.kind} job ${job.id} (${job.status})` : `submitted ${job.kind} job ${job.id}`);
    if (!values.wait) return out(values.json ? JSON.stringify(job) : job.id);
    if (!values.json) await out(job.id);
    return watchJob(client, job.id, { logs: values.logs === true, json: values.json === true, stdout: process.stdout, stderr: process.stderr });
  },

  async watch(args) {
    const { values, positionals } = parse('watch', parseArgs({ args, allowPositionals: true, options: { ...COMMON, logs: { type: 'boolean' }, json: { type: 'boolean' } } }), 1);
    if (!positionals[0]) throw new UsageError('watch needs a job id');
    return watchJob(clientFor(values), positionals[0], { logs: values.logs === true, json: values.json === true, stdout: process.stdout, stderr: process.stderr });
  },

  async jobs(args) {
    const { values } = parse('jobs', parseArgs({ args, allowPositionals: true, options: { ...COMMON, kind: { type: 'string' }, status: { type: 'string' }, search: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } } }), 0);
    const limit = wholeNumber('--limit', values.limit ?? '20', 1, 10_000);
    const client = clientFor(values);
    const jobs: JobView[] = [];
    let cursor: string | null = null;
    do {
      const query = new URLSearchParams({ limit: String(Math.min(100, limit - jobs.length)) });
      if (values.kind) query.set('kind', values.kind);
      if (values.status) query.set('status', values.status);
      if (values.search !== undefined) query.set('q', values.search);
      if (cursor) query.set('cursor', cursor);
      const page: { results: JobView[]; next_cursor: string | null } = await client.getJson(`/v1/jobs?${query}`);
      jobs.push(...page.results);
      cursor = page.next_cursor;
    } while (cursor && jobs.length < limit);
    if (values.json) return out(JSON.stringify(jobs));
    if (!jobs.length) {
      say('no jobs');
      return 0;
    }
    return out(formatTable(['ID', 'KIND', 'STATUS', 'PROGRESS', 'CREATED', 'NAME'], jobs.map((j) => [j.id, j.kind, j.status, `${percent(j.progress)}%`, localTime(j.created_at), j.name ?? ''])));
  },

  async download(args) {
    const { values, positionals } = parse('download', parseArgs({ args, allowPositionals: true, options: { ...COMMON, dir: { type: 'string' }, role: { type: 'string' } } }), 1);
    if (!positionals[0]) throw new UsageError('download needs a job id');
    const { dir, files } = await downloadOutputs(clientFor(values), positionals[0], {
      dir: values.dir,
      role: values.role,
      onFile: (r) => {
        say(r.skipped ? `skipped ${r.name}: already there with the same size` : `downloaded ${r.name} (${formatBytes(r.bytes)})`);
        process.stdout.write(`${r.path}\n`);
      },
    });
    say(`${files.length} file${files.length === 1 ? '' : 's'} in ${dir}`);
    return 0;
  },

  async usage(args) {
    const { values } = parse('usage', parseArgs({ args, allowPositionals: true, options: { ...COMMON, from: { type: 'string' }, to: { type: 'string' }, 'group-by': { type: 'string' }, tenant: { type: 'string' }, json: { type: 'boolean' } } }), 0);
    const query = new URLSearchParams();
    for (const [flag, param] of [['from', 'from'], ['to', 'to'], ['group-by', 'group_by'], ['tenant', 'tenant']] as const) {
      if (values[flag] !== undefined) query.set(param, values[flag]);
    }
    const report = await clientFor(values).getJson<UsageReport>(`/v1/usage?${query}`);
    if (values.json) return out(JSON.stringify(report));
    const tenant = typeof report.tenant === 'string' ? report.tenant : report.tenant.name;
    const lines = [`usage of ${tenant}, ${report.from} to ${report.to} (${report.currency})`];
    if (report.results.length) {
      // The unit (always a group: quantities of different meters do not add up) reads best beside its quantity.
      const dims = report.group_by.filter((d) => d !== 'unit');
      const cells = (r: UsageReport['results'][number]) => [...dims.map((d) => String(r[d] ?? '')), String(r.quantity), String(r.unit ?? ''), String(r.amount)];
      lines.push(formatTable([...dims.map((d) => d.toUpperCase()), 'QUANTITY', 'UNIT', 'AMOUNT'], report.results.map(cells)));
    } else lines.push('nothing charged in this range');
    lines.push(`total ${report.total} ${report.currency}`);
    const p = report.pending;
    if (p && (p.cpu_seconds > 0 || p.gpu_seconds > 0)) lines.push(`running now, charged when they end: ${p.gpu_seconds} GPU-s, ${p.cpu_seconds} CPU-s, about ${p.estimated_amount} ${report.currency}`);
    return out(lines.join('\n'));
  },

  async invoice(args) {
    const { values, positionals } = parse('invoice', parseArgs({ args, allowPositionals: true, options: { ...COMMON, format: { type: 'string' }, out: { type: 'string' }, tenant: { type: 'string' } } }), 1);
    const period = positionals[0];
    if (!period || !/^\d{4}-(0[1-9]|1[0-2])$/.test(period)) throw new UsageError(`invoice needs a month as YYYY-MM, e.g. ${new Date().toISOString().slice(0, 7)}`);
    const format = values.format ?? 'json';
    if (!['json', 'csv', 'html'].includes(format)) throw new UsageError(`--format must be json, csv or html, got '${format}'`);
    const query = new URLSearchParams({ format, ...(values.tenant && { tenant: values.tenant }) });
    const res = await clientFor(values).request(`/v1/invoices/${period}?${query}`);
    const body = Buffer.from(await res.arrayBuffer());
    if (values.out) {
      await writeFile(values.out, body);
      say(`invoice ${period} (${format}) written to ${values.out}`);
      return 0;
    }
    return out(format === 'json' ? JSON.stringify(JSON.parse(body.toString('utf8')), null, 2) : body.toString('utf8').replace(/\n$/, ''));
  },
};

interface UsageReport {
  tenant: { id: string; name: string } | 'all';
  from: string;
  to: string;
  group_by: string[];
  currency: string;
  results: Array<Record<string, unknown> & { quantity: number; amount: string }>;
  total: string;
  pending: { gpu_seconds: number; cpu_seconds: number; estimated_amount: string } | null;
}

/** After parseArgs (with COMMON's flags): `--help` prints the usage and exits; extra arguments are refused. */
function parse<P extends { values: { help?: boolean }; positionals: string[] }>(command: ClientCommand, parsed: P, maxPositionals: number): P {
  if (parsed.values.help) {
    process.stdout.write(`usage: malan ${CLIENT_USAGE[command]}\n`);
    process.exit(0);
  }
  if (parsed.positionals.length > maxPositionals) throw new UsageError(`unexpected argument '${parsed.positionals[maxPositionals]}'`);
  return parsed;
}

function clientFor(flags: { api?: unknown; key?: unknown }): FarmClient {
  return new FarmClient(resolveClientConfig({ api: flags.api as string | undefined, key: flags.key as string | undefined }));
}

function wholeNumber(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} must be a whole number from ${min} to ${max}, got '${value}'`);
  return n;
}

/** `2026-11-03T14:02:09.123Z` → `2026-11-03 15:02:09` in this host's time zone. */
function localTime(iso: string): string {
  const d = new Date(iso);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Writes a result to stdout and waits for it to be taken (the process exits right after). */
function out(text: string): Promise<number> {
  return new Promise((resolve, reject) => process.stdout.write(`${text}\n`, (err) => (err ? reject(err) : resolve(0))));
}
