import path from 'node:path';
import { expect, it } from 'vitest';
import { LocalDiskStorage } from './local-disk-storage.js';
import { openStorage, StorageConfigError } from './open-storage.js';

const base = { home: '/srv/malan', MALAN_S3_FORCE_PATH_STYLE: false } as const;

it('keeps files under MALAN_HOME/storage by default', async () => {
  const storage = await openStorage({ ...base, MALAN_STORAGE: 'local' });
  expect(storage).toBeInstanceOf(LocalDiskStorage);
  expect(storage.localPath('files/t/f')).toBe(path.join('/srv/malan/storage', 'files/t/f'));
});

it('refuses s3 without a bucket before any request', async () => {
  await expect(openStorage({ ...base, MALAN_STORAGE: 's3' })).rejects.toThrow(new StorageConfigError('MALAN_STORAGE=s3 needs MALAN_S3_BUCKET: the bucket that holds the files'));
});
