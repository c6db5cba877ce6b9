/**
 * Real farm processes for end-to-end tests and the bench: `malan serve` and `malan worker` from
 * the built CLI, each with its own log file, stopped (and their children checked) at the end.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cliEntry } from '../../src/paths.js';

export interface FarmProcesses {
  baseUrl: string;
  home: string;
  env: Record<string, string>;
  server: ChildProcess;
  workers: ChildProcess[];
  startWorker(extraEnv?: Record<string, string>): Promise<ChildProcess>;
  createKey(tenant: string, operator?: boolean): Promise<string>;
  /** Runs `malan <args>` with this farm's environment; rejects with its stderr when it fails. */
  cli(args: string[]): Promise<{ stdout: string; stderr: string }>;
  log(name: 'serve' | `worker-${number}`): string;
  /** The log's lines parsed (JSON, one object a line); throws naming a line that is not. */
  logRecords(name: 'serve' | `worker-${number}`): LogRecord[];
  stop(): Promise<void>;
}

export type LogRecord = Record<string, unknown> & { level: string; msg: string; component: string };

function startProcess(args: string[], env: Record<string, string>, logFile: string): ChildProcess {
  // JSON whatever the shell running the tests says: the helpers below read the logs back.
  const child = spawn(process.execPath, [cliEntry, ...args], { env: { ...process.env, MALAN_LOG_FORMAT: 'json', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = createWriteStream(logFile);
  child.stdout!.pipe(out);
  child.stderr!.pipe(out);
  return child;
}

export async function startFarm(env: Record<string, string>, opts: { workers?: number; workerEnv?: Record<string, string> } = {}): Promise<FarmProcesses> {
  const home = env.MALAN_HOME!;
  // PORT=0: the server takes a free port itself and writes it to serve.json. Picking one here and
  // passing it would race with other test files doing the same.
  const server = startProcess(['serve'], { ...env, PORT: '0' }, path.join(home, 'serve.log'));
  let port = 0;
  await waitFor(
    () => {
      if (server.exitCode !== null) throw new Error(`serve exited (${server.exitCode}) before it listened:\n${tail(path.join(home, 'serve.log'))}`);
      try {
        const state = JSON.parse(readFileSync(path.join(home, 'serve.json'), 'utf8')) as { pid: number; port: number };
        if (state.pid === server.pid) port = state.port;
      } catch {
        /* not written yet */
      }
      return port > 0;
    },
    60_000,
    () => `serve did not come up:\n${tail(path.join(home, 'serve.log'))}`,
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  const fullEnv = { ...env, PORT: String(port) };
  await waitFor(async () => (await fetch(`${baseUrl}/healthz`).catch(() => null))?.ok === true, 60_000, () => `serve did not answer:\n${tail(path.join(home, 'serve.log'))}`);
  const workers: ChildProcess[] = [];
  const farm: FarmProcesses = {
    baseUrl,
    home,
    env: fullEnv,
    server,
    workers,
    async startWorker(extraEnv = {}) {
      const n = workers.length;
      const w = startProcess(['worker'], { ...fullEnv, ...opts.workerEnv, ...extraEnv }, path.join(home, `worker-${n}.log`));
      workers.push(w);
      await waitFor(
        () => {
          if (w.exitCode !== null) throw new Error(`worker exited (${w.exitCode}) before it was ready:\n${tail(path.join(home, `worker-${n}.log`))}`);
          return completeLines(readFileSafe(path.join(home, `worker-${n}.log`))).some((l) => parseRecord(l)?.msg === 'ready');
        },
        60_000,
        () => `worker did not start:\n${tail(path.join(home, `worker-${n}.log`))}`,
      );
      return w;
    },
    createKey: (tenant, operator = false) =>
      new Promise((resolve, reject) => {
        execFile(process.execPath, [cliEntry, 'keys', 'create', '--tenant', tenant, ...(operator ? ['--operator'] : [])], { env: { ...process.env, ...fullEnv } }, (err, stdout, stderr) => {
          if (err) return reject(new Error(`keys create failed: ${stderr}`));
          resolve(stdout.trim().split('\n').pop()!);
        });
      }),
    cli: (args) =>
      new Promise((resolve, reject) => {
        execFile(process.execPath, [cliEntry, ...args], { env: { ...process.env, ...fullEnv } }, (err, stdout, stderr) => {
          if (err) return reject(Object.assign(new Error(`malan ${args.join(' ')} failed: ${stderr}`), { stderr }));
          resolve({ stdout, stderr });
        });
      }),
    log: (name) => readFileSafe(path.join(home, `${name}.log`)),
    logRecords: (name) =>
      completeLines(readFileSafe(path.join(home, `${name}.log`))).map((line) => {
        const record = parseRecord(line);
        if (!record) throw new Error(`${name}.log has a line that is not a JSON object: ${line}`);
        return record;
      }),
    async stop() {
      await Promise.all([...workers, server].map(stopChild));
    },
  };
  for (let i = 0; i < (opts.workers ?? 1); i++) await farm.startWorker();
  return farm;
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, message: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms: ${message()}`);
}

/** The lines written so far, less a last one still being written. */
const completeLines = (text: string) => text.split('\n').slice(0, -1).filter(Boolean);

function parseRecord(line: string): LogRecord | null {
  try {
    const value: unknown = JSON.parse(line);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as LogRecord) : null;
  } catch {
    return null;
  }
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

const tail = (file: string) => readFileSafe(file).split('\n').slice(-30).join('\n');
