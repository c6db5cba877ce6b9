import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { LocalDiskStorage } from './local-disk-storage.js';
import { withLocalFile } from './local-file.js';
import type { Storage } from './storage.js';

let root = '';
let disk: LocalDiskStorage;
/** The same objects seen as a remote backend sees them: no local path. */
let remote: Storage;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'malan-local-file-'));
  disk = new LocalDiskStorage(root);
  remote = { put: disk.put.bind(disk), read: disk.read.bind(disk), size: disk.size.bind(disk), delete: disk.delete.bind(disk), deletePrefix: disk.deletePrefix.bind(disk), localPath: () => null };
  await disk.put('live/c1/in/seg_001.ts', Readable.from([Buffer.from('segment bytes')]));
});
afterEach(() => rm(root, { recursive: true, force: true }));

it("uses the backend's own file when it has one", async () => {
  expect(await withLocalFile(disk, 'live/c1/in/seg_001.ts', async (file) => file)).toBe(path.join(root, 'live/c1/in/seg_001.ts'));
});

it('copies a remote object to a temporary file with its name, removed afterwards', async () => {
  let seen = '';
  const read = await withLocalFile(remote, 'live/c1/in/seg_001.ts', async (file) => {
    seen = file;
    return readFile(file, 'utf8');
  });
  expect(read).toBe('segment bytes');
  expect(path.basename(seen)).toBe('seg_001.ts');
  expect(existsSync(path.dirname(seen))).toBe(false);
});

it('writes bytes the caller holds instead of reading them back, and cleans up when `use` throws', async () => {
  let seen = '';
  const failed = withLocalFile(
    remote,
    'live/c1/in/never-stored.ts',
    async (file) => {
      seen = file;
      expect(await readFile(file, 'utf8')).toBe('held');
      throw new Error('probe failed');
    },
    { bytes: Buffer.from('held') },
  );
  await expect(failed).rejects.toThrow('probe failed');
  expect(existsSync(path.dirname(seen))).toBe(false);
});

it('fails with ENOENT for a missing remote object', async () => {
  await expect(withLocalFile(remote, 'files/none/original', async () => 'never')).rejects.toMatchObject({ code: 'ENOENT' });
});
