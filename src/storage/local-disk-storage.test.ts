import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LocalDiskStorage } from './local-disk-storage.js';
import { describeStorage } from './storage-contract.js';

describeStorage('LocalDiskStorage', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'malan-storage-'));
  return {
    storage: new LocalDiskStorage(root),
    // Every file under the root, temporary (.partial-…) ones included; folders left empty do not count.
    everything: async () =>
      (await readdir(root, { recursive: true, withFileTypes: true }))
        .filter((d) => d.isFile())
        .map((d) => path.relative(root, path.join(d.parentPath, d.name)))
        .sort(),
    pending: async () => [],
    localPathOf: (key) => path.join(root, key),
    close: () => rm(root, { recursive: true, force: true }),
  };
});
