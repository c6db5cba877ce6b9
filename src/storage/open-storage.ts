/**
 * The storage the configuration names: MALAN_HOME/storage on this host, or an S3-compatible
 * bucket. An S3 bucket is checked at start (HeadBucket), so that a wrong name, region or
 * credentials stop the process with a message instead of failing each upload later.
 */
import path from 'node:path';
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config/env.js';
import { LocalDiskStorage } from './local-disk-storage.js';
import { S3Storage } from './s3-storage.js';
import type { Storage } from './storage.js';

export type StorageConfig = Pick<Config, 'home' | 'MALAN_STORAGE' | 'MALAN_S3_BUCKET' | 'MALAN_S3_PREFIX' | 'MALAN_S3_ENDPOINT' | 'MALAN_S3_REGION' | 'MALAN_S3_FORCE_PATH_STYLE'>;

export class StorageConfigError extends Error {}

/** `makeClient`: how the S3 client is made from the configuration (tests wrap it for their server). */
export async function openStorage(config: StorageConfig, makeClient: (config: StorageConfig) => S3Client = s3Client): Promise<Storage> {
  if (config.MALAN_STORAGE === 'local') return new LocalDiskStorage(path.join(config.home, 'storage'));
  const bucket = config.MALAN_S3_BUCKET;
  if (!bucket) throw new StorageConfigError('MALAN_STORAGE=s3 needs MALAN_S3_BUCKET: the bucket that holds the files');
  const client = makeClient(config);
  const where = `bucket ${bucket}${config.MALAN_S3_ENDPOINT ? ` at ${config.MALAN_S3_ENDPOINT}` : ''}`;
  try {
    await client.config.region();
  } catch {
    throw new StorageConfigError(`MALAN_STORAGE=s3 needs a region to sign requests for ${where}: set MALAN_S3_REGION (or AWS_REGION)`);
  }
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const why = status === 404 ? 'it does not exist' : status === 403 ? 'access denied: check the AWS credentials (AWS_ACCESS_KEY_ID…, AWS_PROFILE) and their policy' : `${(err as Error).name}: ${(err as Error).message}`;
    client.destroy();
    throw new StorageConfigError(`MALAN_STORAGE=s3: cannot use ${where}: ${why}`);
  }
  return new S3Storage({ client, bucket, prefix: config.MALAN_S3_PREFIX });
}

/** The S3 client for the configuration; credentials come from the SDK's default chain. */
export function s3Client(config: StorageConfig): S3Client {
  return new S3Client({
    ...(config.MALAN_S3_REGION && { region: config.MALAN_S3_REGION }),
    ...(config.MALAN_S3_ENDPOINT && { endpoint: config.MALAN_S3_ENDPOINT }),
    forcePathStyle: config.MALAN_S3_FORCE_PATH_STYLE,
    // The SDK's default (since 3.729) adds CRC32 checksums that many S3-compatible servers refuse;
    // integrity is TLS's and the sha256 the farm records.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}
