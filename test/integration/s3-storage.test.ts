/**
 * S3Storage against a local S3 API server: @20minutes/s3rver 4.0.x, the maintained fork of s3rver
 * (a Koa app that keeps buckets in a folder), run by this file in a child process on 127.0.0.1,
 * with a fresh bucket per test. The client is the one `openStorage` makes from the configuration,
 * with credentials from the environment (s3rver's S3RVER key pair), as in production, but for one
 * change s3rver needs: a bucket's own operations go to /BUCKET instead of the SDK's /BUCKET/
 * (s3rver checks their signature against /BUCKET; S3 takes either). s3rver also answers
 * `Range: bytes=0-0` with the whole object; S3Storage passes on only the range asked (the
 * contract's range test reads bytes 0-0).
 *
 * Passing here shows that the requests S3Storage sends are well formed S3 (PutObject; multipart
 * create, upload, complete and abort; GetObject with Range; HeadObject; DeleteObject;
 * ListObjectsV2 paged by continuation token; DeleteObjects), that it reads S3's answers right
 * (NoSuchKey, InvalidRange, truncated listings), that SigV4 signing with credentials from the
 * SDK's chain is right (s3rver checks header and query signatures, and presigned URLs' expiry),
 * and that the storage contract (src/storage/storage-contract.ts) holds over S3.
 *
 * It does not show:
 * - multipart part-size rules: s3rver takes parts of any size and any count, where S3 refuses a
 *   part under 5 MiB but the last (EntityTooSmall, at complete) and more than 10,000 parts; only
 *   lib-storage's checks and S3Storage's 5 MiB floor stand for them;
 * - aborting on a real server: s3rver has no AbortMultipartUpload (nor ListMultipartUploads), so
 *   this file adds a small one (it drops the upload's folder) for the abort to be sent and
 *   checked, and looks in s3rver's folder for uploads left;
 * - consistency: one process on one disk reads its own writes and lists what it holds; S3 does
 *   too since 2020, other S3-compatible servers (eventually consistent listings) may not;
 * - authorization: s3rver also serves unsigned requests and knows no policies, so missing IAM
 *   permissions (s3:ListBucket for deletePrefix, s3:AbortMultipartUpload…) show only on the real
 *   thing; a signed body is not checked against its x-amz-content-sha256;
 * - TLS, virtual-hosted bucket addressing, region redirects, throttling (503 SlowDown) and the
 *   SDK's retries, server-side encryption, and the checksums the client is told not to send.
 */
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { CreateBucketCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openStorage, s3Client, StorageConfigError, type StorageConfig } from '../../src/storage/open-storage.js';
import { S3Storage } from '../../src/storage/s3-storage.js';
import { describeStorage, PART_BYTES } from '../../src/storage/storage-contract.js';
import { packageRoot } from '../../src/paths.js';

/**
 * The server, in a child process: s3rver makes ListObjectsV2's continuation tokens with DES,
 * which Node's OpenSSL 3 has only with its legacy provider. Beside it, what s3rver lacks:
 * AbortMultipartUpload (it answers 405), here dropping the upload's folder of parts.
 */
const SERVER = `
const S3rver = require('@20minutes/s3rver');
const { rm } = require('node:fs/promises');
const path = require('node:path');
const dir = process.env.S3RVER_DIR;
const server = new S3rver({ address: '127.0.0.1', port: 0, directory: dir, silent: true, vhostBuckets: false });
server.middleware.unshift(async (ctx, next) => {
  const id = ctx.query.uploadId;
  if (ctx.method !== 'DELETE' || typeof id !== 'string') return next();
  if (!/^[0-9a-f]{32}$/.test(id)) throw new Error('not an s3rver upload id: ' + id);
  await rm(path.join(dir, ctx.path.split('/')[1], '._S3rver_uploads', id), { recursive: true, force: true });
  ctx.status = 204;
});
server.run().then(({ port }) => console.log(JSON.stringify({ port })));
process.stdin.on('end', () => process.exit(0)).resume(); // gone with the test process
`;

const PREFIX = 'farm-a/';
let dir = '';
let server: ChildProcess;
let endpoint = '';
let client: S3Client;

/** The configuration a farm on this server has (credentials are in the environment, stubbed below). */
const configFor = (bucket: string, more: Partial<StorageConfig> = {}): StorageConfig => ({
  home: dir,
  MALAN_STORAGE: 's3' as const,
  MALAN_S3_BUCKET: bucket,
  MALAN_S3_PREFIX: PREFIX,
  MALAN_S3_ENDPOINT: endpoint,
  MALAN_S3_REGION: 'us-east-1',
  MALAN_S3_FORCE_PATH_STYLE: true,
  ...more,
});

beforeAll(async () => {
  // Credentials as the SDK's chain finds them; no shared files and no instance metadata (never a request off this host).
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'S3RVER');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'S3RVER');
  vi.stubEnv('AWS_SESSION_TOKEN', undefined);
  vi.stubEnv('AWS_PROFILE', undefined);
  vi.stubEnv('AWS_REGION', undefined);
  vi.stubEnv('AWS_CONFIG_FILE', path.join(tmpdir(), 'malan-no-aws-config'));
  vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', path.join(tmpdir(), 'malan-no-aws-credentials'));
  vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
  dir = await mkdtemp(path.join(tmpdir(), 'malan-s3rver-'));
  server = spawn(process.execPath, ['--openssl-legacy-provider', '-e', SERVER], { cwd: packageRoot, env: { ...process.env, S3RVER_DIR: dir }, stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = once(server, 'exit').then(([code]) => Promise.reject(new Error(`s3rver exited (${String(code)}) before it listened`)));
  const [line] = (await Promise.race([once(createInterface({ input: server.stdout! }), 'line'), exited])) as [string];
  endpoint = `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`;
  client = s3rverClient(configFor('unused'));
});
afterAll(async () => {
  client?.destroy();
  if (server && server.exitCode === null) {
    const exited = once(server, 'exit');
    server.stdin!.end();
    await exited;
  }
  await rm(dir, { recursive: true, force: true });
  vi.unstubAllEnvs();
});

/**
 * The farm's client, as `openStorage` makes it, with one change for s3rver: the SDK addresses
 * (and signs) a bucket's own operations (ListObjectsV2, DeleteObjects, HeadBucket) as /BUCKET/,
 * and S3 takes that, but s3rver checks the signature against /BUCKET; so they go as /BUCKET.
 */
function s3rverClient(config: StorageConfig): S3Client {
  const c = s3Client(config);
  c.middlewareStack.add(
    (next) => (args) => {
      const request = args.request as { path?: string };
      if (request.path && /^\/[^/]+\/$/.test(request.path)) request.path = request.path.slice(0, -1);
      return next(args);
    },
    { step: 'build', name: 's3rverBucketPath' },
  );
  return c;
}

/** Where s3rver keeps a bucket's multipart uploads begun and not completed: one folder each. */
const uploadsDir = (bucket: string) => path.join(dir, bucket, '._S3rver_uploads');

async function newBucket(): Promise<string> {
  const bucket = `t-${randomBytes(6).toString('hex')}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

/** Every key in the bucket, ours without the prefix; any other is marked. */
async function keysIn(bucket: string, prefix = PREFIX): Promise<string[]> {
  const keys: string[] = [];
  let ContinuationToken: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken }));
    for (const o of page.Contents ?? []) keys.push(o.Key!.startsWith(prefix) ? o.Key!.slice(prefix.length) : `(outside ${prefix}) ${o.Key}`);
    ContinuationToken = page.NextContinuationToken;
  } while (ContinuationToken);
  return keys.sort();
}

/** Parts of S3's least size and listings of 2 keys, so that small test bodies and folders take several. */
const storageIn = (bucket: string, prefix = PREFIX) => new S3Storage({ client, bucket, prefix, partSize: PART_BYTES, listPageSize: 2 });

describeStorage('S3Storage on s3rver', async () => {
  const bucket = await newBucket();
  return {
    storage: storageIn(bucket),
    everything: () => keysIn(bucket),
    pending: () => readdir(uploadsDir(bucket)).catch(() => []),
    localPathOf: () => null,
    close: async () => undefined, // the bucket goes with the server's folder
  };
});

describe('S3Storage on s3rver, beyond the contract', () => {
  it('keeps a farm under its prefix: another prefix in the same bucket is not touched', async () => {
    const bucket = await newBucket();
    const a = storageIn(bucket, 'farm-a');
    const b = storageIn(bucket, 'farm-b/');
    await a.put('live/c1/in/a.ts', Readable.from([Buffer.from('a')]));
    await b.put('live/c1/in/a.ts', Readable.from([Buffer.from('b')]));
    expect(await keysIn(bucket, '')).toEqual(['farm-a/live/c1/in/a.ts', 'farm-b/live/c1/in/a.ts']);
    await a.deletePrefix('live/c1/');
    expect(await keysIn(bucket, '')).toEqual(['farm-b/live/c1/in/a.ts']);
    expect(await text(b.read('live/c1/in/a.ts'))).toBe('b');
  });

  it('multipart-uploads a body larger than a part, and aborts one past maxBytes', async () => {
    const bucket = await newBucket();
    const storage = storageIn(bucket);
    const sent: string[] = [];
    client.middlewareStack.add(
      (next, context) => (args) => {
        sent.push(String(context.commandName));
        return next(args);
      },
      { step: 'initialize', name: 'recordCommands' },
    );
    try {
      await storage.put('big/ok', Readable.from([randomBytes(PART_BYTES), randomBytes(PART_BYTES + 1)]));
      expect(sent).toEqual(['CreateMultipartUploadCommand', 'UploadPartCommand', 'UploadPartCommand', 'UploadPartCommand', 'CompleteMultipartUploadCommand']);
      sent.length = 0;
      await expect(storage.put('big/no', Readable.from([randomBytes(PART_BYTES), randomBytes(PART_BYTES), randomBytes(10)]), { maxBytes: 2 * PART_BYTES })).rejects.toThrow('larger than the limit');
      expect(sent).toContain('AbortMultipartUploadCommand');
      expect(sent).not.toContain('CompleteMultipartUploadCommand');
      expect(await readdir(uploadsDir(bucket))).toEqual([]);
      expect(await keysIn(bucket)).toEqual(['big/ok']);
    } finally {
      client.middlewareStack.remove('recordCommands');
    }
  });

  it('gives presigned GET URLs that s3rver verifies: the bytes, then 403 once tampered with or expired', async () => {
    const storage = storageIn(await newBucket());
    await storage.put('files/t/f', Readable.from([Buffer.from('presigned bytes')]));
    const url = await storage.presignedGetUrl('files/t/f', 60);
    expect(new URL(url).pathname).toMatch(new RegExp(`/${PREFIX}files/t/f$`));
    const ok = await fetch(url);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('presigned bytes');
    expect((await fetch(url.replace(/X-Amz-Signature=[0-9a-f]+/, `X-Amz-Signature=${'0'.repeat(64)}`))).status).toBe(403);
    expect((await fetch(url.replace('files/t/f', 'files/t/g'))).status).toBe(403); // signed for one key only
    const short = await storage.presignedGetUrl('files/t/f', 1);
    await new Promise((r) => setTimeout(r, 2100));
    expect((await fetch(short)).status).toBe(403);
    await expect(storage.presignedGetUrl('files/t/f', 8 * 24 * 3600)).rejects.toThrow('1 to 604800 s');
    await expect(storage.presignedGetUrl('../f', 60)).rejects.toThrow('invalid storage key');
  });

});

describe('openStorage with MALAN_STORAGE=s3', () => {
  it('opens the configured bucket and prefix', async () => {
    const bucket = await newBucket();
    const storage = await openStorage(configFor(bucket), s3rverClient);
    expect(storage).toBeInstanceOf(S3Storage);
    await storage.put('files/t/f', Readable.from([Buffer.from('x')]));
    expect(await keysIn(bucket, '')).toEqual([`${PREFIX}files/t/f`]);
  });

  it('stops with a message naming what is wrong: no such bucket, bad credentials, no region', async () => {
    await expect(openStorage(configFor('no-such-bucket'), s3rverClient)).rejects.toThrow(`cannot use bucket no-such-bucket at ${endpoint}: it does not exist`);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'wrong');
    try {
      const err = await openStorage(configFor(await newBucket()), s3rverClient).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageConfigError);
      expect((err as Error).message).toContain('access denied: check the AWS credentials');
      expect((err as Error).message).not.toContain('wrong');
    } finally {
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'S3RVER');
    }
    await expect(openStorage(configFor('any-bucket', { MALAN_S3_REGION: undefined }), s3rverClient)).rejects.toThrow('set MALAN_S3_REGION (or AWS_REGION)');
  });
});
