/**
 * The farm's process logs, on pino: one JSON object a line (`level`, `time`, `pid`, `hostname`,
 * `component`, the bound fields, the call's fields, `msg`), or with MALAN_LOG_FORMAT=pretty the
 * same fields as one readable line for a person at a terminal. Lines about a job carry `job_id`
 * and `tenant`, bound once with `with(jobFields(...))`; a worker's lines carry `worker`.
 */
import { pino, stdTimeFunctions, type DestinationStream, type Logger as Pino } from 'pino';
import { CENSOR, REDACT_PATHS, scrubFields, scrubText } from './log-redaction.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'pretty';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** The same bound fields, under the component `<this one>/<component>`. */
  child(component: string): Logger;
  /** A logger whose every line also carries `fields` (a later value for a key replaces the earlier). */
  with(fields: LogFields): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  out?: NodeJS.WritableStream;
}

/** The fields that tie a line to a job, named the same on the API and on workers (`jq 'select(.job_id==…)'`). */
export const jobFields = (jobId: string, tenantId: string | undefined): LogFields => ({ job_id: jobId, tenant: tenantId });

export function createLogger(component: string, opts: LoggerOptions = {}): Logger {
  const out = opts.out ?? process.stderr;
  const root = pino(
    {
      level: opts.level ?? 'info',
      // The label, not pino's number: Loki, Datadog, Elastic, CloudWatch and GCP read "level":"warn"
      // as a severity without a mapping, and a person reading the line does too.
      formatters: { level: (label) => ({ level: label }) },
      // ISO-8601, not epoch milliseconds: shippers parse it as is, and it sorts as text.
      timestamp: stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: CENSOR },
    },
    opts.format === 'pretty' ? prettyDestination(out) : out,
  );
  return bind(root, { component });
}

// Every logger is a child of the root with all its fields merged here: pino writes a key bound
// twice (a child of a child) twice in the same object, which JSON readers handle each their own way.
function bind(root: Pino, fields: LogFields): Logger {
  const p = root.child(scrubFields(fields));
  const at = (level: LogLevel) => (msg: string, extra?: LogFields) => (extra ? p[level](scrubFields(extra), scrubText(msg)) : p[level](scrubText(msg)));
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (component) => bind(root, { ...fields, component: `${String(fields.component)}/${component}` }),
    with: (more) => bind(root, { ...fields, ...more }),
  };
}

const NOT_DETAILS = new Set(['level', 'time', 'pid', 'hostname', 'component', 'msg']);

/** `time LEVEL [component] msg key=value…`: the JSON line, read back and laid out for people. */
export function prettyLine(json: string): string {
  const o = JSON.parse(json) as LogFields;
  const details = Object.entries(o)
    .filter(([k, v]) => !NOT_DETAILS.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${String(o.time)} ${String(o.level).toUpperCase().padEnd(5)} [${String(o.component)}] ${String(o.msg)}${details ? ` ${details}` : ''}\n`;
}

// In-process and synchronous, unlike pino-pretty's transport: no worker thread, and a line
// written just before the process exits is not lost.
function prettyDestination(out: NodeJS.WritableStream): DestinationStream {
  return { write: (line: string) => void out.write(prettyLine(line)) };
}
