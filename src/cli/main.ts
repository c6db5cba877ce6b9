/**
 * The `malan` CLI: serve, worker, keys create, models add, migrate. Configuration comes from the environment
 * (see src/config/env.ts); flags are only what differs between processes of one farm.
 * The client commands (login, submit, watch, jobs, download, usage, invoice) only speak HTTP to an
 * API on any host: see client-commands.ts.
 */
import { parseArgs } from 'node:util';
import { config } from '../config/env.js';
import type { Logger } from '../logger.js';
import { createKeyCommand } from './keys-command.js';
import { addModelCommand } from './models-command.js';

const USAGE = `usage: malan <command>

  serve                                  the API (and its recorder, reconciler, webhooks) on PORT (default 8080)
  worker [--gpu N] [--concurrency K]     one worker process; --gpu pins it to one GPU
  keys create --tenant NAME [--operator] create a key (and the tenant if needed); prints the key on the last line
  models add MANIFEST [--weights FILE]   add a model version (an ONNX file and its manifest); prints the version id on the last line
  migrate                                apply the database migrations

environment: PORT, DATABASE_URL (unset: embedded PGlite under MALAN_HOME), REDIS_URL (unset: a
redis-server started under MALAN_HOME), MALAN_HOME (default .malan), MALAN_QUEUE_PREFIX (default malan)

client commands, for studios and operators, over HTTP to an API on any host:

  login --api URL --key KEY              check the key and save both to ~/.config/malan/config.json (mode 600)
  submit KIND [--input FILE.json] [--set key=value …] [--file PATH …] [--wait [--logs]] [--idempotency-key K] [--json]
                                         upload each --file (named @1, @2 … in the input: --set source.file=@1),
                                         submit the job; prints its id on the last line; --wait then watches it
  watch JOB_ID [--logs] [--json]         follow a job live; exit 0 when it succeeded, 1 when it failed or was canceled
  jobs [--kind K] [--status S] [--limit N] [--json]
                                         the newest jobs: id, kind, status, progress, created
  download JOB_ID [--dir DIR] [--role ROLE]
                                         a succeeded job's outputs into DIR (default ./JOB_ID), skipping those already there
  usage [--from DAY] [--to DAY] [--group-by day,meter] [--tenant T] [--json]
                                         metered usage (this month by default)
  invoice YYYY-MM [--format json|csv|html] [--out FILE] [--tenant T]
                                         a month's invoice

  the API URL and key: --api URL / --key KEY, else MALAN_API_URL / MALAN_API_KEY, else the file that
  \`malan login\` writes (\${XDG_CONFIG_HOME:-~/.config}/malan/config.json); the URL also from a
  malan serve running under MALAN_HOME`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve': {
      const { startServer } = await import('../api/server.js');
      const server = await startServer(config());
      onShutdown(() => server.stop(), server.log);
      return new Promise(() => {}); // runs until a signal
    }
    case 'worker': {
      const { values } = parseArgs({ args: rest, options: { gpu: { type: 'string' }, concurrency: { type: 'string', default: '1' } } });
      const gpu = values.gpu === undefined ? undefined : intFlag('--gpu', values.gpu, 0);
      const concurrency = intFlag('--concurrency', values.concurrency!, 1);
      const { runWorker } = await import('../../workers/worker-main.js');
      const worker = await runWorker(config(), { gpu, concurrency });
      onShutdown(() => worker.stop(), worker.log);
      return new Promise(() => {});
    }
    case 'keys': {
      const [sub, ...flags] = rest;
      if (sub !== 'create') return usage(`unknown keys command '${sub ?? ''}'`);
      const { values } = parseArgs({ args: flags, options: { tenant: { type: 'string' }, operator: { type: 'boolean', default: false } } });
      if (!values.tenant) return usage('keys create needs --tenant NAME');
      const created = await createKeyCommand(config(), values.tenant, values.operator!);
      process.stderr.write(`created ${values.operator ? 'an operator' : 'a'} key for tenant ${values.tenant} (${created.via}); it is shown only this once:\n`);
      process.stdout.write(`${created.key}\n`);
      return 0;
    }
    case 'models': {
      const [sub, ...args] = rest;
      if (sub !== 'add') return usage(`unknown models command '${sub ?? ''}'`);
      const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { weights: { type: 'string' } } });
      if (positionals.length !== 1) return usage('models add needs one manifest file: malan models add models/NAME.json [--weights FILE.onnx]');
      const added = await addModelCommand(config(), positionals[0]!, values.weights);
      process.stderr.write(`${added.created ? 'added' : 'already there:'} ${added.model}, version (${added.via}):\n`);
      process.stdout.write(`${added.version}\n`);
      return 0;
    }
    case 'migrate': {
      const { openDatabase } = await import('../db/database.js');
      const c = config();
      const db = await openDatabase({ databaseUrl: c.DATABASE_URL, home: c.home });
      await db.migrate();
      await db.close();
      process.stderr.write(`migrations applied (${db.kind}: ${db.location})\n`);
      return 0;
    }
    case 'login':
    case 'submit':
    case 'watch':
    case 'jobs':
    case 'download':
    case 'usage':
    case 'invoice': {
      const { runClientCommand } = await import('./client-commands.js');
      return runClientCommand(command, rest);
    }
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    default:
      return usage(`unknown command '${command}'`);
  }
}

function usage(problem: string): number {
  process.stderr.write(`malan: ${problem}\n\n${USAGE}\n`);
  return 2;
}

function intFlag(name: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`malan: ${name} must be an integer ≥ ${min}, got '${value}'\n`);
    process.exit(2);
  }
  return n;
}

// Through the process's logger, so that a log shipper reading JSON lines gets these too.
function onShutdown(stop: () => Promise<void>, log: Logger) {
  let count = 0;
  const handler = (signal: string) => {
    if (++count > 1) process.exit(130); // a second Ctrl-C does not wait
    log.info('stopping', { signal });
    setTimeout(() => {
      log.error('still stopping after 15 s; exiting now');
      process.exit(1);
    }, 15_000).unref();
    stop().then(
      () => process.exit(0),
      (err: Error) => {
        log.error('error while stopping', { error: err.message });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => handler('SIGTERM'));
  process.on('SIGINT', () => handler('SIGINT'));
  // Under `npx malan …`, npm runs us through `sh -c`, which does not pass on the SIGTERM that npm
  // forwards: we would outlive a stopped npx. So there, we stop when our parent goes away.
  if (process.env.npm_command === 'exec') {
    const parent = process.ppid;
    setInterval(() => process.ppid !== parent && handler('parent process gone'), 500).unref();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`malan: ${err.message}\n`);
    process.exit(1);
  },
);
