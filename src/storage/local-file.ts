/**
 * A file on this host with an object's bytes, for tools that take a path (ffprobe, ffmpeg): the
 * backend's own file when it has one (local disk), else a temporary copy that is removed when
 * `use` is done, whatever happens.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Storage } from './storage.js';

/** `bytes`: the object's bytes when the caller holds them already (written instead of read back). */
export async function withLocalFile<T>(storage: Storage, key: string, use: (file: string) => Promise<T>, opts: { bytes?: Buffer } = {}): Promise<T> {
  const own = storage.localPath(key);
  if (own) return use(own);
  const dir = await mkdtemp(path.join(tmpdir(), 'malan-object-'));
  try {
    // The key's last segment keeps its extension: ffprobe guesses some formats by it.
    const file = path.join(dir, path.posix.basename(key));
    if (opts.bytes) await writeFile(file, opts.bytes);
    else await pipeline(storage.read(key), createWriteStream(file));
    return await use(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
