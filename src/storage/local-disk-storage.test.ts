import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalDiskStorage } from './local-disk-storage.js';
import { TooLargeError } from './storage.js';

/** Everything a readable yields, as one buffer. */
async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A body that arrives in several chunks, like an upload. */
function chunked(data: Buffer, size: number): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) parts.push(data.subarray(i, i + size));
  return Readable.from(parts);
}

describe('LocalDiskStorage', () => {
  let root = '';
  let storage: LocalDiskStorage;
  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'malan-storage-'));
    storage = new LocalDiskStorage(root);
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('puts, reads, sizes and deletes an object, with its sha256', async () => {
    const data = randomBytes(300_000);
    const stored = await storage.put('files/f_1/original', chunked(data, 65_536));
    expect(stored).toEqual({ size: data.length, sha256: createHash('sha256').update(data).digest('hex') });
    expect((await bytesOf(storage.read('files/f_1/original'))).equals(data)).toBe(true);
    expect(await storage.size('files/f_1/original')).toBe(data.length);
    expect(storage.localPath('files/f_1/original')).toBe(path.join(root, 'files/f_1/original'));
    expect(await readdir(path.join(root, 'files/f_1'))).toEqual(['original']);
    await storage.delete('files/f_1/original');
    expect(await storage.size('files/f_1/original')).toBeNull();
    await storage.delete('files/f_1/original'); // deleting what is gone is not an error
  });

  it('stores an empty body', async () => {
    expect(await storage.put('empty', Readable.from([]))).toEqual({ size: 0, sha256: createHash('sha256').digest('hex') });
    expect(await storage.size('empty')).toBe(0);
  });

  it('replaces an object put twice under one key', async () => {
    await storage.put('k', Readable.from([Buffer.from('first version')]));
    await storage.put('k', Readable.from([Buffer.from('second')]));
    expect(await text(storage.read('k'))).toBe('second');
  });

  it('reads an inclusive byte range', async () => {
    await storage.put('r', Readable.from([Buffer.from('0123456789')]));
    expect(await text(storage.read('r', { start: 2, end: 5 }))).toBe('2345');
    expect(await text(storage.read('r', { start: 9, end: 9 }))).toBe('9');
  });

  it('accepts a body of exactly maxBytes', async () => {
    expect((await storage.put('exact', chunked(Buffer.alloc(100, 1), 30), { maxBytes: 100 })).size).toBe(100);
  });

  it.each([
    ['in one chunk', 1],
    ['after several chunks', 64],
  ])('throws TooLargeError past maxBytes %s and leaves nothing behind', async (_, chunks) => {
    const body = chunked(randomBytes(64 * 1024), (64 * 1024) / chunks);
    const err = await storage.put('uploads/u_1', body, { maxBytes: 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TooLargeError);
    expect(err).toMatchObject({ limit: 1000 });
    expect(await readdir(path.join(root, 'uploads'))).toEqual([]);
    expect(await storage.size('uploads/u_1')).toBeNull();
  });

  it('removes the temporary file when the body fails', async () => {
    const body = new Readable({
      read() {
        this.push(Buffer.alloc(1000));
        this.destroy(new Error('client went away'));
      },
    });
    await expect(storage.put('broken/b', body)).rejects.toThrow('client went away');
    expect(await readdir(path.join(root, 'broken'))).toEqual([]);
  });

  it('refuses keys that could leave the root', async () => {
    for (const key of ['../escape', 'a/../../escape', '/etc/passwd', 'a/..', '', '.hidden', 'a b']) {
      await expect(storage.put(key, Readable.from([Buffer.from('x')])), key).rejects.toThrow('invalid storage key');
      expect(() => storage.read(key), key).toThrow('invalid storage key');
      expect(() => storage.localPath(key), key).toThrow('invalid storage key');
      await expect(storage.delete(key), key).rejects.toThrow('invalid storage key');
    }
    expect(await readdir(root)).toEqual([]);
  });
});
