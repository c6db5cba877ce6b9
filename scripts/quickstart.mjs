#!/usr/bin/env node
// The second half of scripts/up.sh: starts `malan serve` and `malan worker`, makes a key, uploads
// a clip, submits a transcode, shows its progress live (SSE), then keeps the farm up until Ctrl-C.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin/malan.js');
const home = path.resolve(process.env.MALAN_HOME ?? path.join(root, '.malan'));
const port = process.env.PORT ?? '8080';
const base = `http://127.0.0.1:${port}`;
const env = { ...process.env, MALAN_HOME: home, PORT: port };
mkdirSync(path.join(home, 'logs'), { recursive: true });

const say = (s) => console.log(`\x1b[1m==>\x1b[0m ${s}`);
const children = [];
function start(name, args) {
  const log = path.join(home, 'logs', `${name}.log`);
  // Own process group: Ctrl-C reaches only this script, which then stops the farm in order.
  const child = spawn(process.execPath, [cli, ...args], { env, detached: true, stdio: ['ignore', openSync(log, 'a'), openSync(log, 'a')] });
  child.on('exit', (code, signal) => code && console.error(`${name} exited with ${code ?? signal}; see ${log}`));
  children.push(child);
  return log;
}
async function stopAll() {
  const running = children.filter((c) => c.exitCode === null && c.signalCode === null);
  const exited = running.map((c) => new Promise((r) => c.once('exit', r)));
  for (const c of running) c.kill('SIGTERM');
  await Promise.all(exited);
}
process.on('SIGINT', () => {
  say('stopping the farm');
  stopAll().then(() => process.exit(0));
});
const fail = (err) => {
  console.error(`quick start failed: ${err?.message ?? err}`);
  stopAll().then(() => process.exit(1));
};
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

if ((await fetch(`${base}/healthz`).catch(() => null))?.ok) {
  console.error(`Something already answers on ${base}. Stop it, or run with another PORT: PORT=8081 bash scripts/up.sh`);
  process.exit(1);
}
say(`starting the API on ${base} (logs: ${path.join(home, 'logs/serve.log')})`);
const serveLog = start('serve', ['serve']);
for (let i = 0; !(await fetch(`${base}/healthz`).catch(() => null))?.ok; i++) {
  if (i > 240) throw new Error(`the API did not start; see ${serveLog}:\n${readFileSync(serveLog, 'utf8').slice(-2000)}`);
  await new Promise((r) => setTimeout(r, 250));
}
say(`starting a worker (logs: ${path.join(home, 'logs/worker.log')})`);
start('worker', ['worker']);

const key = execFileSync(process.execPath, [cli, 'keys', 'create', '--tenant', 'demo'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n').pop();
say(`API key for tenant "demo": ${key}`);

let clip = process.argv[2];
if (clip) {
  if (!existsSync(clip)) throw new Error(`no such file: ${clip}`);
} else {
  clip = path.join(home, 'sample-10s-720p.mp4');
  if (!existsSync(clip)) {
    say('making a 10 s 720p sample clip with ffmpeg (test pattern and a tone)');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=s=1280x720:r=30:d=10', '-f', 'lavfi', '-i', 'sine=f=440:d=10', '-c:v', 'libx264', '-preset', 'veryfast', '-c:a', 'aac', '-shortest', clip]);
  }
}
const auth = { authorization: `Bearer ${key}` };
say(`uploading ${clip}`);
const file = await (await fetch(`${base}/v1/files?name=${encodeURIComponent(path.basename(clip))}`, { method: 'POST', headers: { ...auth, 'content-type': 'video/mp4' }, body: readFileSync(clip) })).json();
if (!file.id) throw new Error(`upload failed: ${JSON.stringify(file)}`);
const job = await (await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'transcode', input: { source: { file: file.id }, height: 360 } }) })).json();
if (!job.id) throw new Error(`submit failed: ${JSON.stringify(job)}`);
say(`submitted job ${job.id}: transcode to 360p — following ${base}/v1/jobs/${job.id}/events`);

const res = await fetch(`${base}/v1/jobs/${job.id}/events`, { headers: auth });
const decoder = new TextDecoder();
let buffer = '';
let final = null;
for await (const chunk of res.body) {
  buffer += decoder.decode(chunk, { stream: true });
  let i;
  while ((i = buffer.indexOf('\n\n')) >= 0) {
    const block = buffer.slice(0, i);
    buffer = buffer.slice(i + 2);
    const event = /^event: (.*)$/m.exec(block)?.[1];
    const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null');
    if (event === 'progress') {
      const pct = Math.round(data.progress * 100);
      process.stdout.write(`\r    [${'#'.repeat(pct / 4).padEnd(25)}] ${String(pct).padStart(3)}%`);
    } else if (event === 'status') process.stdout.write(`\n    status: ${data.status}${data.error ? ` (${data.error.message})` : ''}\n`);
    else if (event === 'done') final = data;
  }
}
process.stdout.write('\n');
if (final?.status === 'succeeded') {
  const out = final.outputs[0];
  say(`done in ${final.usage.wall_seconds} s on the ${final.execution.path} path (${final.execution.reason})`);
  console.log(`    output: ${out.url}\n    fetch it: curl -H "Authorization: Bearer ${key}" -o out.mp4 ${out.url}`);
} else {
  say(`the job ended ${final?.status}: ${JSON.stringify(final?.error)}`);
}
console.log(`\n    job:   curl -H "Authorization: Bearer ${key}" ${base}/v1/jobs/${job.id}\n    log:   curl -H "Authorization: Bearer ${key}" ${base}/v1/jobs/${job.id}/logs`);
say('the farm stays up: submit more jobs with the key above. Ctrl-C stops it.');
