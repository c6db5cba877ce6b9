/**
 * The storage port: where file bytes live. Local disk now; an S3-compatible backend plugs in
 * behind the same interface. Writes go to a temporary name and are renamed into place, so a
 * reader never sees a partial file.
 */
import type { Readable } from 'node:stream';

export interface StoredObject {
  size: number;
  sha256: string;
}

export interface ByteRange {
  start: number;
  end: number; // inclusive
}

export interface Storage {
  /** Streams `body` into `key`; throws TooLargeError past `maxBytes` and leaves nothing behind. */
  put(key: string, body: Readable, opts?: { maxBytes?: number }): Promise<StoredObject>;
  read(key: string, range?: ByteRange): Readable;
  size(key: string): Promise<number | null>;
  delete(key: string): Promise<void>;
  /** Deletes every object whose key starts with `prefix` (a folder: ends with "/"). */
  deletePrefix(prefix: string): Promise<void>;
  /** A local path for the object when the backend has one (lets ffmpeg read without copying). */
  localPath(key: string): string | null;
}

/** A whole (small) object in memory: a model's weights to read its graph, an inference's output tensors. */
export async function readWhole(storage: Storage, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of storage.read(key)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export class TooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`the body is larger than the limit of ${limit} bytes`);
  }
}
