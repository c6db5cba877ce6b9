import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inputHardeningArgs, SAFE_DEMUXERS } from './input-hardening.js';
import path from 'node:path';
import { VIDEO } from '../../test/helpers/assets.js';

const run = promisify(execFile);
const FLOWER = path.join(VIDEO, 'flower.mp4');

/** Exit code and stderr of a command that may fail. */
async function attempt(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(cmd, args);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('input hardening', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'malan-hardening-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lists only demuxers that this ffmpeg has', async () => {
    const { stdout } = await run('ffmpeg', ['-hide_banner', '-demuxers']);
    // Lines look like " D  mov,mp4,m4a,3gp,3g2,mj2 QuickTime / MOV"; a demuxer can have several names.
    const names = new Set(
      stdout
        .split('\n')
        .map((line) => /^\s*D\S*\s+(\S+)/.exec(line)?.[1])
        .flatMap((field) => (field === undefined ? [] : field.split(','))),
    );
    expect(names.has('mov')).toBe(true);
    expect(SAFE_DEMUXERS.filter((name) => !names.has(name))).toEqual([]);
    for (const refused of ['hls', 'concat', 'image2', 'lavfi', 'tty', 'data']) expect(SAFE_DEMUXERS).not.toContain(refused);
  });

  it('puts the whitelists in the argument array', () => {
    expect(inputHardeningArgs()).toEqual(['-protocol_whitelist', 'file', '-format_whitelist', SAFE_DEMUXERS.join(',')]);
  });

  it('refuses an HLS playlist disguised as an MP4 that points at a local file and a local port', async () => {
    const evil = join(dir, 'evil.mp4');
    await writeFile(
      evil,
      [
        '#EXTM3U',
        '#EXT-X-TARGETDURATION:1',
        '#EXTINF:1,',
        'file:///etc/passwd',
        '#EXTINF:1,',
        'http://127.0.0.1:1/x.ts',
        '#EXT-X-ENDLIST',
        '',
      ].join('\n'),
    );
    const result = await attempt('ffprobe', ['-v', 'error', ...inputHardeningArgs(), '-show_format', evil]);
    expect(result.code).not.toBe(0);
    // Refused by our whitelist itself, before the HLS demuxer reads a single segment URL (Debian's
    // ffmpeg 5.1 would also stop these two URLs by extension, so the message is what proves it).
    expect(result.stderr).toMatch(/\[hls @ [^\]]+\] Format not on whitelist/);
  });

  it('still probes a real clip', async () => {
    const result = await attempt('ffprobe', [
      '-v', 'error', ...inputHardeningArgs(), '-show_entries', 'format=format_name:stream=codec_name', '-of', 'json', FLOWER,
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const probed = JSON.parse(result.stdout) as { format: { format_name: string }; streams: { codec_name: string }[] };
    expect(probed.format.format_name).toContain('mp4');
    expect(probed.streams.map((s) => s.codec_name)).toEqual(['h264', 'aac']);
  });
});
