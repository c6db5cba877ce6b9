/**
 * The storage port: where file bytes live. Two backends: local disk (`LocalDiskStorage`) and an
 * S3-compatible bucket (`S3Storage`); `storage-contract.ts` is the behaviour both must have. A put
 * becomes visible whole or not at all, so a reader never sees a partial object.
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

/**
 * Keys are made by the farm from ids (`files/<tenant>/<id>`, `live/<channel>/…`). Every method
 * refuses (throws "invalid storage key") a key outside `checkKey`'s rule.
 */
export interface Storage {
  /** Streams `body` into `key`; throws TooLargeError past `maxBytes` and leaves nothing behind. */
  put(key: string, body: Readable, opts?: { maxBytes?: number }): Promise<StoredObject>;
  /**
   * The object's bytes, or those of `range` (clamped to the object: a range that starts past its
   * end reads nothing). A missing object makes the stream fail with an error whose code is ENOENT.
   */
  read(key: string, range?: ByteRange): Readable;
  /** The object's size in bytes; null when there is none. */
  size(key: string): Promise<number | null>;
  /** Deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** Deletes every object whose key starts with `prefix` (a folder: ends with "/"). */
  deletePrefix(prefix: string): Promise<void>;
  /**
   * A local path for the object when the backend has one (lets ffmpeg read without copying);
   * null for a remote backend: see `withLocalFile` for a caller that needs a file anyway.
   */
  localPath(key: string): string | null;
  /** A URL that GETs the object without the farm's help until `ttlSeconds` pass (remote backends only). */
  presignedGetUrl?(key: string, ttlSeconds: number): Promise<string>;
}

/** Throws unless `key` is a storage key: letters, digits, _ . - in segments joined by "/" (none empty, "." or ".."), starting with neither "." nor "-". */
export function checkKey(key: string): void {
  // Keys are made by the farm; still, never let one climb out of a root or alias another object.
  const segments = key.split('/');
  if (!/^[A-Za-z0-9_][A-Za-z0-9_./-]*$/.test(key) || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new Error(`invalid storage key: ${key}`);
  }
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
