/**
 * Storage in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2…), so that several API hosts share
 * one set of files. Objects live under `prefix` + key. A put streams: bodies up to one part go up
 * in a single PutObject, longer ones as a multipart upload (lib-storage's `Upload`); either way
 * the object appears whole or not at all. Bytes are counted and hashed on the way; past
 * `maxBytes` the upload is aborted (multipart parts included) and TooLargeError thrown.
 *
 * The client (endpoint, region, credentials) is made by `openStorage`; credentials come from the
 * AWS SDK's own chain and never pass through here.
 */
import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { checkKey, TooLargeError, type ByteRange, type Storage, type StoredObject } from './storage.js';

const MiB = 1024 * 1024;
/** S3 allows at most this many parts in one upload. */
const MAX_PARTS = 10_000;
/** SigV4 presigned URLs live at most 7 days. */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

export interface S3StorageOptions {
  client: S3Client;
  bucket: string;
  /** A folder for the farm's objects ("" or ending in "/"; one is added when missing). */
  prefix?: string;
  /**
   * Bytes per multipart part (default 8 MiB; S3's least is 5 MiB). Raised for a `maxBytes` that
   * would need more than 10,000 parts. A body with no `maxBytes` can be at most 10,000 parts long.
   */
  partSize?: number;
  /** Parts uploaded at once (default 4): memory per put is about queueSize × partSize. */
  queueSize?: number;
  /** Keys listed (and deleted) per request by deletePrefix (default 1000, S3's most). */
  listPageSize?: number;
}

export class S3Storage implements Storage {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly listPageSize: number;

  constructor(opts: S3StorageOptions) {
    this.client = opts.client;
    this.bucket = opts.bucket;
    this.prefix = opts.prefix && !opts.prefix.endsWith('/') ? `${opts.prefix}/` : (opts.prefix ?? '');
    this.partSize = opts.partSize ?? 8 * MiB;
    this.queueSize = opts.queueSize ?? 4;
    this.listPageSize = opts.listPageSize ?? 1000;
    if (this.partSize < 5 * MiB) throw new Error(`S3 parts are at least 5 MiB; partSize ${this.partSize} is less`);
  }

  private objectKey(key: string): string {
    checkKey(key);
    return this.prefix + key;
  }

  async put(key: string, body: Readable, opts: { maxBytes?: number } = {}): Promise<StoredObject> {
    const Key = this.objectKey(key);
    const limit = opts.maxBytes ?? Number.POSITIVE_INFINITY;
    const hash = createHash('sha256');
    let size = 0;
    let bodyFailure: unknown;
    async function* metered(): AsyncGenerator<Buffer> {
      try {
        for await (const chunk of body) {
          const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
          size += bytes.length;
          if (size > limit) throw new TooLargeError(limit);
          hash.update(bytes);
          yield bytes;
        }
      } catch (err) {
        bodyFailure = err;
        throw err;
      }
    }
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key, Body: Readable.from(metered()) },
      partSize: Number.isFinite(limit) ? Math.max(this.partSize, Math.ceil(limit / MAX_PARTS)) : this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false, // on failure, Upload sends AbortMultipartUpload for the parts it sent
    });
    try {
      await upload.done();
    } catch (err) {
      body.destroy();
      // The body's own failure (too large, the client went away) is the one to report, not what
      // it made the upload (or its abort) say.
      throw bodyFailure ?? err;
    }
    return { size, sha256: hash.digest('hex') };
  }

  read(key: string, range?: ByteRange): Readable {
    const Key = this.objectKey(key);
    const out = new PassThrough();
    const request = new AbortController();
    let answered = false;
    // A reader that goes away before S3 answers cancels the request; after that, pipeline closes the body.
    out.once('close', () => answered || request.abort());
    const Range = range && `bytes=${range.start}-${range.end}`;
    this.client
      .send(new GetObjectCommand({ Bucket: this.bucket, Key, Range }), { abortSignal: request.signal })
      .then(async (res) => {
        answered = true;
        const bytes = res.Body as Readable;
        if (!range) return pipeline(bytes, out);
        // Some S3-compatible servers answer a range with more than was asked (or the whole object,
        // as HTTP allows); pass on exactly the range.
        const from = servedFrom(res.ContentRange);
        if (from > range.start) {
          bytes.destroy();
          throw new Error(`the S3 server sent bytes from ${from} for a range from ${range.start}`);
        }
        return pipeline(bytes, (source: AsyncIterable<Buffer>) => slice(source, range.start - from, range.end - range.start + 1), out);
      })
      .catch((err: unknown) => {
        if (statusOf(err) === 416) return void out.end(); // a range past the end: nothing to read
        const missing = (err as Error).name === 'NoSuchKey'; // not NoSuchBucket: that is the farm's fault, not the key's
        out.destroy(missing ? Object.assign(new Error(`no such object: ${key}`), { code: 'ENOENT' }) : (err as Error));
      });
    return out;
  }

  async size(key: string): Promise<number | null> {
    const Key = this.objectKey(key);
    try {
      return (await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }))).ContentLength ?? 0;
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
  }

  async deletePrefix(prefix: string): Promise<void> {
    if (!prefix.endsWith('/')) throw new Error(`a prefix to delete is a folder ending in "/": ${prefix}`);
    const Prefix = `${this.objectKey(prefix.slice(0, -1))}/`;
    let ContinuationToken: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix, ContinuationToken, MaxKeys: this.listPageSize }));
      const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
      if (keys.length) {
        const res = await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys, Quiet: true } }));
        const failed = res.Errors ?? [];
        if (failed.length) throw new Error(`S3 kept ${failed.length} object(s) under ${Prefix}: ${failed[0]!.Key} (${failed[0]!.Code}: ${failed[0]!.Message})`);
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  localPath(key: string): null {
    checkKey(key);
    return null;
  }

  async presignedGetUrl(key: string, ttlSeconds: number): Promise<string> {
    const Key = this.objectKey(key);
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_PRESIGN_SECONDS) {
      throw new Error(`a presigned URL lives 1 to ${MAX_PRESIGN_SECONDS} s (SigV4's most); ${ttlSeconds} asked`);
    }
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key }), { expiresIn: ttlSeconds });
  }
}

/** The HTTP status an SDK error carries (404 for a missing object or bucket, 416 for InvalidRange). */
function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

/** Where the bytes of an answer start: Content-Range's first byte, or 0 for a whole object. */
function servedFrom(contentRange: string | undefined): number {
  const m = contentRange && /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(contentRange);
  return m ? Number(m[1]) : 0;
}

/** `take` bytes of `source` after skipping `skip`; stops reading once they are through. */
async function* slice(source: AsyncIterable<Buffer>, skip: number, take: number): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    let bytes = chunk;
    if (skip > 0) {
      const n = Math.min(skip, bytes.length);
      bytes = bytes.subarray(n);
      skip -= n;
    }
    if (bytes.length > take) bytes = bytes.subarray(0, take);
    take -= bytes.length;
    if (bytes.length) yield bytes;
    if (take === 0) return;
  }
}
