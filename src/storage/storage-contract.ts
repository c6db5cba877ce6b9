/**
 * What every storage backend must do, as one vitest suite: `describeStorage(name, open)` runs it
 * on the storage that `open` makes (a fresh, empty one per test). Used by
 * local-disk-storage.test.ts and test/integration/s3-storage.test.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer, text } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readWhole, TooLargeError, type Storage } from './storage.js';

export interface StorageFixture {
  storage: Storage;
  /** Everything the backend holds (files on disk, temporary ones included; objects in the bucket), by key. */
  everything(): Promise<string[]>;
  /** Uploads begun and neither finished nor aborted (S3 multipart uploads); [] for a backend without them. */
  pending(): Promise<string[]>;
  /** What localPath should give for `key`. */
  localPathOf(key: string): string | null;
  close(): Promise<void>;
}

const MiB = 1024 * 1024;
/** S3's smallest part: the S3 fixture uploads in parts of this size, so that a small test body has several. */
export const PART_BYTES = 5 * MiB;
/** Three parts (5 + 5 + 2 MiB). */
const SEVERAL_PARTS = 12 * MiB;

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** A body that arrives in several chunks, like an upload. */
export function chunked(data: Buffer, size: number): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) parts.push(data.subarray(i, i + size));
  return Readable.from(parts);
}

export function describeStorage(name: string, open: () => Promise<StorageFixture>): void {
  describe(`${name}: the storage contract`, () => {
    let f: StorageFixture;
    let storage: Storage;
    beforeEach(async () => {
      f = await open();
      storage = f.storage;
    });
    afterEach(() => f?.close());

    it('puts, reads, sizes and deletes an object, with its sha256', async () => {
      const data = randomBytes(300_000);
      expect(await storage.put('files/f_1/original', chunked(data, 65_536))).toEqual({ size: data.length, sha256: sha256(data) });
      expect((await readWhole(storage, 'files/f_1/original')).equals(data)).toBe(true);
      expect(await storage.size('files/f_1/original')).toBe(data.length);
      expect(storage.localPath('files/f_1/original')).toBe(f.localPathOf('files/f_1/original'));
      expect(await f.everything()).toEqual(['files/f_1/original']);
      await storage.delete('files/f_1/original');
      expect(await storage.size('files/f_1/original')).toBeNull();
      await storage.delete('files/f_1/original'); // deleting what is gone is not an error
      expect(await f.everything()).toEqual([]);
    });

    it('stores an empty body', async () => {
      expect(await storage.put('empty', Readable.from([]))).toEqual({ size: 0, sha256: sha256(Buffer.alloc(0)) });
      expect(await storage.size('empty')).toBe(0);
      expect(await text(storage.read('empty'))).toBe('');
    });

    it('replaces an object put twice under one key', async () => {
      await storage.put('k', Readable.from([Buffer.from('first version')]));
      await storage.put('k', Readable.from([Buffer.from('second')]));
      expect(await text(storage.read('k'))).toBe('second');
      expect(await storage.size('k')).toBe(6);
    });

    it('reads an inclusive byte range, clamped to the object', async () => {
      await storage.put('r', Readable.from([Buffer.from('0123456789')]));
      expect(await text(storage.read('r', { start: 2, end: 5 }))).toBe('2345');
      expect(await text(storage.read('r', { start: 9, end: 9 }))).toBe('9');
      expect(await text(storage.read('r', { start: 0, end: 0 }))).toBe('0');
      expect(await text(storage.read('r', { start: 7, end: 100 }))).toBe('789');
      expect(await text(storage.read('r', { start: 10, end: 20 }))).toBe(''); // starts past the end: nothing
      expect(await text(storage.read('r', { start: 50, end: 60 }))).toBe('');
    });

    it('fails the stream of a missing object with ENOENT, and sizes it null', async () => {
      await expect(text(storage.read('files/none/original'))).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(text(storage.read('files/none/original', { start: 0, end: 9 }))).rejects.toMatchObject({ code: 'ENOENT' });
      expect(await storage.size('files/none/original')).toBeNull();
    });

    it('accepts a body of exactly maxBytes', async () => {
      expect((await storage.put('exact', chunked(Buffer.alloc(100, 1), 30), { maxBytes: 100 })).size).toBe(100);
    });

    it('stores a body of several parts whole, and reads a range across a part boundary', async () => {
      const data = randomBytes(SEVERAL_PARTS);
      expect(await storage.put('big/b', chunked(data, 256 * 1024), { maxBytes: data.length })).toEqual({ size: data.length, sha256: sha256(data) });
      expect(sha256(await readWhole(storage, 'big/b'))).toBe(sha256(data));
      const across = await buffer(storage.read('big/b', { start: PART_BYTES - 10, end: PART_BYTES + 9 }));
      expect(across.equals(data.subarray(PART_BYTES - 10, PART_BYTES + 10))).toBe(true);
      expect(await f.pending()).toEqual([]);
    });

    it.each([
      ['in one chunk', () => chunked(randomBytes(64 * 1024), 64 * 1024), 1000],
      ['after several chunks', () => chunked(randomBytes(64 * 1024), 1024), 1000],
      ['after parts were sent', () => chunked(randomBytes(SEVERAL_PARTS), 256 * 1024), SEVERAL_PARTS - 1],
    ])('throws TooLargeError past maxBytes %s and leaves nothing behind', async (_, body, limit) => {
      const err = await storage.put('uploads/u_1', body(), { maxBytes: limit }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TooLargeError);
      expect(err).toMatchObject({ limit });
      expect(await f.everything()).toEqual([]);
      expect(await f.pending()).toEqual([]);
      expect(await storage.size('uploads/u_1')).toBeNull();
    });

    it('keeps the old object when a replacing body is too large', async () => {
      await storage.put('k', Readable.from([Buffer.from('kept')]));
      await expect(storage.put('k', chunked(randomBytes(4096), 512), { maxBytes: 1000 })).rejects.toBeInstanceOf(TooLargeError);
      expect(await text(storage.read('k'))).toBe('kept');
    });

    it('leaves nothing behind when the body fails', async () => {
      const body = new Readable({
        read() {
          this.push(Buffer.alloc(1000));
          this.destroy(new Error('client went away'));
        },
      });
      await expect(storage.put('broken/b', body)).rejects.toThrow('client went away');
      expect(await f.everything()).toEqual([]);
      expect(await f.pending()).toEqual([]);
    });

    it('deletes a folder and nothing beside it', async () => {
      const inside = ['live/c1/in/a.ts', 'live/c1/in/b.ts', 'live/c1/720p/1.ts', 'live/c1/720p/2.ts', 'live/c1/480p/1.ts'];
      const beside = ['live/c10/in/a.ts', 'live/c2/in/a.ts', 'files/t/f'];
      for (const key of [...inside, ...beside]) await storage.put(key, Readable.from([Buffer.from(key)]));
      await storage.deletePrefix('live/c1/');
      expect((await f.everything()).sort()).toEqual([...beside].sort());
      await storage.deletePrefix('live/c1/'); // an empty folder is not an error
      await expect(storage.deletePrefix('live/c10')).rejects.toThrow('ending in "/"');
    });

    it('refuses keys that could leave the root or alias another key', async () => {
      for (const key of ['../escape', 'a/../../escape', '/etc/passwd', 'a/..', '', '.hidden', 'a b', 'a//b', 'a/./b', 'a/', '-a']) {
        await expect(storage.put(key, Readable.from([Buffer.from('x')])), key).rejects.toThrow('invalid storage key');
        expect(() => storage.read(key), key).toThrow('invalid storage key');
        await expect(storage.size(key), key).rejects.toThrow('invalid storage key');
        expect(() => storage.localPath(key), key).toThrow('invalid storage key');
        await expect(storage.delete(key), key).rejects.toThrow('invalid storage key');
      }
      await expect(storage.deletePrefix('../')).rejects.toThrow('invalid storage key');
      expect(await f.everything()).toEqual([]);
    });
  });
}
