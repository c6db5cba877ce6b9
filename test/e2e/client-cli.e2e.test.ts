/**
 * The client side of `malan` as a studio meets it: real serve and worker processes, the built CLI
 * run as a separate process that knows only the API's URL (from the running serve's serve.json, or
 * MALAN_API_URL) and its key (MALAN_API_KEY, or the file `malan login` writes).
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEntry } from '../../src/paths.js';
import { apiClient, type ApiClient } from '../helpers/api-client.js';
import { VIDEO } from '../helpers/assets.js';
import { startFarm, type FarmProcesses } from '../helpers/farm-processes.js';
import { testWorld } from '../helpers/test-env.js';

const CLIP = path.join(VIDEO, 'bug_video_640.mp4');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

let farm: FarmProcesses;
let key: string;
let api: ApiClient;
let scratch: string;
/** The CLI's environment: the farm's MALAN_HOME (so the running serve gives the URL), the key, and a config folder of its own. */
let env: Record<string, string>;

function malan(args: string[], extra: Record<string, string> = {}, cwd = scratch): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [cliEntry, ...args], { cwd, env: { ...process.env, ...env, ...extra }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr, ms: Date.now() - started });
    });
  });
}

const lastLine = (text: string) => text.trim().split('\n').pop()!;
const jobCount = async () => (await api.get('/v1/jobs?limit=100')).body.results.length as number;

beforeAll(async () => {
  const world = await testWorld();
  farm = await startFarm(world.env);
  key = await farm.createKey('studio-cli');
  api = apiClient(farm.baseUrl, key);
  scratch = mkdtempSync(path.join(os.tmpdir(), 'malan-client-'));
  // MALAN_API_URL empty: the URL comes from the running serve under MALAN_HOME.
  env = { ...farm.env, MALAN_API_KEY: key, MALAN_API_URL: '', XDG_CONFIG_HOME: path.join(scratch, 'config'), HOME: scratch };
});

afterAll(async () => {
  await farm?.stop();
});

describe('malan client commands', () => {
  let jobId: string;

  it('submit uploads the file, submits, waits and prints the job id on the last line', async () => {
    const res = await malan(['submit', 'transcode', '--file', CLIP, '--set', 'source.file=@1', '--set', 'height=240', '--name', 'Bug reel 240p', '--wait']);
    expect(res.code, res.stderr).toBe(0);
    jobId = lastLine(res.stdout);
    expect(jobId).toMatch(/^job_[0-9a-z]{26}$/);
    expect(res.stderr).toMatch(/uploaded .*bug_video_640\.mp4 \(.*\) as file_/);
    expect(res.stderr).toContain(`submitted transcode job ${jobId}`);
    expect(res.stderr).toMatch(/100% succeeded/); // stderr is no terminal here: plain lines
    expect(res.stderr).toContain(`${jobId} succeeded`);
    const job = (await api.get(`/v1/jobs/${jobId}`)).body;
    expect(job).toMatchObject({ status: 'succeeded', name: 'Bug reel 240p', input: { height: 240, source: { file: expect.stringMatching(/^file_/) } } });
  });

  it('jobs lists it', async () => {
    const res = await malan(['jobs']);
    expect(res.code, res.stderr).toBe(0);
    const [header, ...rows] = res.stdout.trim().split('\n');
    expect(header).toMatch(/^ID\s+KIND\s+STATUS\s+PROGRESS\s+CREATED\s+NAME$/);
    expect(rows.find((r) => r.startsWith(jobId))).toMatch(new RegExp(`^${jobId}\\s+transcode\\s+succeeded\\s+100%\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\s+Bug reel 240p$`));
    const found = await malan(['jobs', '--search', 'bug reel', '--json']);
    expect((JSON.parse(found.stdout) as Array<{ id: string }>).map((j) => j.id)).toEqual([jobId]);
    expect(JSON.parse((await malan(['jobs', '--search', 'no such reel', '--json'])).stdout)).toEqual([]);
    const json = await malan(['jobs', '--kind', 'transcode', '--status', 'succeeded', '--json']);
    expect((JSON.parse(json.stdout) as Array<{ id: string }>).map((j) => j.id)).toContain(jobId);
  });

  it('download fetches the MP4, which ffprobe reads; a second run skips it', async () => {
    const dir = path.join(scratch, 'out');
    const res = await malan(['download', jobId, '--dir', dir]);
    expect(res.code, res.stderr).toBe(0);
    const files = res.stdout.trim().split('\n');
    expect(files).toHaveLength(1);
    expect(path.dirname(files[0]!)).toBe(dir);
    const probe = JSON.parse((await promisify(execFile)('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', files[0]!])).stdout);
    expect(probe.format.format_name).toContain('mp4');
    expect(probe.streams[0]).toMatchObject({ codec_type: 'video', codec_name: 'h264', height: 240 });
    const again = await malan(['download', jobId, '--dir', dir]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('already there with the same size');
    // Without --dir: ./JOB_ID under the working directory.
    const plain = await malan(['download', jobId, '--role', 'mp4']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(readdirSync(path.join(scratch, jobId))).toHaveLength(1);
  });

  it('usage --json shows the CPU-seconds it used', async () => {
    const res = await malan(['usage', '--json']);
    expect(res.code, res.stderr).toBe(0);
    const report = JSON.parse(res.stdout) as { tenant: { name: string }; results: Array<{ meter: string; quantity: number }> };
    expect(report.tenant.name).toBe('studio-cli');
    expect(report.results.find((r) => r.meter === 'cpu_seconds')?.quantity).toBeGreaterThan(0);
    const table = await malan(['usage', '--group-by', 'day,meter']);
    expect(table.stdout).toMatch(/^METER\s+DAY\s+QUANTITY\s+UNIT\s+AMOUNT$/m);
    expect(table.stdout).toMatch(/^cpu_seconds\s+\d{4}-\d\d-\d\d\s+[\d.]+\s+CPU-second\s+[\d.]+$/m);
    const invoice = await malan(['invoice', new Date().toISOString().slice(0, 7), '--format', 'csv', '--out', path.join(scratch, 'invoice.csv')]);
    expect(invoice.code, invoice.stderr).toBe(0);
    expect(statSync(path.join(scratch, 'invoice.csv')).size).toBeGreaterThan(0);
  });

  it('watch on a finished job exits 0 at once', async () => {
    const res = await malan(['watch', jobId]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toContain(`${jobId} succeeded`);
    expect(res.ms).toBeLessThan(5_000);
    const json = await malan(['watch', jobId, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ id: jobId, status: 'succeeded' });
  });

  it('watch exits 1 with the error when the job fails (a transcode of a file that is no video)', async () => {
    const notes = path.join(scratch, 'notes.txt');
    writeFileSync(notes, 'these are notes, not a video\n'.repeat(20));
    // The URL from MALAN_API_URL this time, not from serve.json.
    const submitted = await malan(['submit', 'transcode', '--file', notes, '--set', 'source.file=@1', '--set', 'height=240'], { MALAN_API_URL: farm.baseUrl });
    expect(submitted.code, submitted.stderr).toBe(0);
    const failing = lastLine(submitted.stdout);
    const res = await malan(['watch', failing, '--logs'], { MALAN_API_URL: farm.baseUrl });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(new RegExp(`malan: job ${failing} failed: .*\\(media_unreadable\\)`));
    expect(res.stderr).toMatch(/attempt=1 /); // --logs
    const download = await malan(['download', failing]);
    expect(download.code).toBe(1);
    expect(download.stderr).toContain(`job ${failing} is failed`);
  });

  it('refuses bad input with a clear error and a non-zero exit, submitting nothing', async () => {
    const before = await jobCount();
    const cases: Array<[string[], Record<string, string>, number, RegExp]> = [
      [['submit', 'frobnicate', '--file', CLIP, '--set', 'source.file=@1'], {}, 2, /unknown kind 'frobnicate'; one of transcode, inference, render/],
      [['submit', 'transcode', '--file', CLIP, '--set', 'source.file=@1', '--set', 'height'], {}, 2, /--set needs key=value .*got 'height'/],
      [['submit', 'transcode', '--file', path.join(scratch, 'missing.mp4'), '--set', 'source.file=@1', '--set', 'height=240'], {}, 2, /--file .*missing\.mp4: no such file/],
      [['submit', 'transcode', '--set', 'source.file=@1', '--set', 'height=240'], {}, 2, /the input names @1 but no --file was given/],
      [['submit', 'transcode', '--file', CLIP, '--set', 'source.file=@1', '--set', 'height=241'], {}, 2, /input\.height: height must be even/],
      [['submit', 'transcode', '--file', CLIP, '--set', 'source.file=@1', '--set', 'height=240'], { MALAN_API_KEY: '' }, 1, /no API key: pass --key KEY, set MALAN_API_KEY, or save one with `malan login/],
      [['jobs'], { MALAN_API_KEY: 'mk_not_a_key' }, 1, /malan: .* \(HTTP 401 unauthorized\)\nmalan: the key came from MALAN_API_KEY/],
      [['jobs'], { MALAN_API_URL: 'http://127.0.0.1:59999' }, 1, /cannot reach http:\/\/127\.0\.0\.1:59999\/v1\/jobs\?limit=20 \(ECONNREFUSED\); the API URL came from MALAN_API_URL/],
      [['watch', 'job_00000000000000000000000000'], {}, 1, /malan: job job_00000000000000000000000000 was not found \(HTTP 404 not_found\)/],
      [['watch'], {}, 2, /watch needs a job id/],
      [['jobs', '--bogus'], {}, 2, /Unknown option '--bogus'/],
      [['submit', 'transcode', '--file', CLIP, '--set', 'source.file=@1', '--set', 'height=240', '--name', ' '], {}, 2, /--name must be 1 to 200 characters/],
    ];
    for (const [args, extra, code, message] of cases) {
      const res = await malan(args, extra);
      expect(res.code, `${args.join(' ')}: ${res.stderr}`).toBe(code);
      expect(res.stderr, args.join(' ')).toMatch(message);
      expect(res.stderr, args.join(' ')).not.toContain('uploaded');
      expect(res.stdout, args.join(' ')).toBe('');
    }
    expect(await jobCount()).toBe(before);
  });

  it('login checks the key and saves it (mode 600) for the commands after it; a file others can read is refused', async () => {
    const config = path.join(scratch, 'login-config');
    const noKey = { MALAN_API_KEY: '', XDG_CONFIG_HOME: config };
    const refused = await malan(['login', '--api', farm.baseUrl, '--key', 'mk_not_a_key'], noKey);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('HTTP 401');
    const res = await malan(['login', '--api', farm.baseUrl, '--key', key], noKey);
    expect(res.code, res.stderr).toBe(0);
    const file = path.join(config, 'malan', 'config.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // No MALAN_HOME serve to fall back on either: both come from the file.
    const jobs = await malan(['jobs', '--json'], { ...noKey, MALAN_HOME: path.join(scratch, 'no-farm') });
    expect(jobs.code, jobs.stderr).toBe(0);
    expect((JSON.parse(jobs.stdout) as Array<{ id: string }>).map((j) => j.id)).toContain(jobId);
    chmodSync(file, 0o644);
    const open = await malan(['jobs'], noKey);
    expect(open.code).toBe(1);
    expect(open.stderr).toContain(`chmod 600 ${file}`);
  });
});
