import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliEntry } from '../paths.js';
import { ConfigError, parseConfig } from './env.js';

/** The ConfigError that parseConfig throws for `env` (fails the test when it throws none). */
function configError(env: Record<string, string>): ConfigError {
  try {
    parseConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`${JSON.stringify(env)} was accepted`);
}

describe('parseConfig', () => {
  it('gives the defaults for an empty environment, with MALAN_HOME made absolute', () => {
    const c = parseConfig({});
    expect(c).toMatchObject({
      PORT: 8080,
      HOST: '127.0.0.1',
      MALAN_HOME: '.malan',
      MALAN_QUEUE_PREFIX: 'malan',
      MALAN_MAX_UPLOAD_BYTES: 20 * 1024 ** 3,
      MALAN_KILL_GRACE_MS: 5000,
      MALAN_ALLOW_PRIVATE_WEBHOOKS: false,
      MALAN_FFMPEG_PATH: 'ffmpeg',
      MALAN_LOG_FORMAT: 'json',
    });
    expect(c.home).toBe(path.resolve('.malan'));
    expect(path.isAbsolute(c.home)).toBe(true);
    expect(c.DATABASE_URL).toBeUndefined();
    expect(c.REDIS_URL).toBeUndefined();
  });

  it('reads set values, coercing numbers and the explicit booleans', () => {
    const c = parseConfig({
      PORT: '9000',
      MALAN_HOME: '/srv/malan',
      DATABASE_URL: 'postgresql://u@db:5432/farm',
      REDIS_URL: 'rediss://cache:6380',
      MALAN_QUEUE_PREFIX: '{farm-1}',
      MALAN_ALLOW_PRIVATE_WEBHOOKS: '1',
    });
    expect(c).toMatchObject({
      PORT: 9000,
      home: '/srv/malan',
      DATABASE_URL: 'postgresql://u@db:5432/farm',
      REDIS_URL: 'rediss://cache:6380',
      MALAN_QUEUE_PREFIX: '{farm-1}',
      MALAN_ALLOW_PRIVATE_WEBHOOKS: true,
    });
    expect(parseConfig({ MALAN_ALLOW_PRIVATE_WEBHOOKS: 'false' }).MALAN_ALLOW_PRIVATE_WEBHOOKS).toBe(false);
    expect(parseConfig({ MALAN_ALLOW_PRIVATE_WEBHOOKS: 'true' }).MALAN_ALLOW_PRIVATE_WEBHOOKS).toBe(true);
    expect(parseConfig({ MALAN_LOG_FORMAT: 'pretty' }).MALAN_LOG_FORMAT).toBe('pretty');
  });

  it.each([
    ['PORT', 'notaport'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://u@db/farm'],
    ['MALAN_QUEUE_PREFIX', 'has space'],
    ['MALAN_ALLOW_PRIVATE_WEBHOOKS', 'yes'],
    ['REDIS_URL', 'http://cache:6379'],
    ['MALAN_SECRET', 'too-short'],
    ['MALAN_LOG_FORMAT', 'text'],
  ])('refuses %s=%s, naming the variable (and its value, unless it may hold a secret)', (name, value) => {
    const err = configError({ [name]: value });
    const secret = ['DATABASE_URL', 'REDIS_URL', 'MALAN_SECRET'].includes(name);
    expect(err.message).toContain(secret ? `${name}=(hidden)` : `${name}=${JSON.stringify(value)}`);
    if (secret) expect(err.message).not.toContain(value);
  });

  it('names every bad variable at once', () => {
    const err = configError({ PORT: 'x', DATABASE_URL: 'mysql://db' });
    expect(err.message).toContain('PORT=');
    expect(err.message).toContain('DATABASE_URL=');
  });

  it('keeps files on local disk unless told MALAN_STORAGE=s3, which needs a bucket', () => {
    expect(parseConfig({})).toMatchObject({ MALAN_STORAGE: 'local', MALAN_S3_FORCE_PATH_STYLE: false });
    const s3 = parseConfig({
      MALAN_STORAGE: 's3',
      MALAN_S3_BUCKET: 'farm-files',
      MALAN_S3_PREFIX: 'malan/prod',
      MALAN_S3_ENDPOINT: 'http://minio.lan:9000',
      MALAN_S3_REGION: 'eu-west-1',
      MALAN_S3_FORCE_PATH_STYLE: 'true',
    });
    expect(s3).toMatchObject({ MALAN_STORAGE: 's3', MALAN_S3_BUCKET: 'farm-files', MALAN_S3_PREFIX: 'malan/prod', MALAN_S3_ENDPOINT: 'http://minio.lan:9000', MALAN_S3_REGION: 'eu-west-1', MALAN_S3_FORCE_PATH_STYLE: true });
    expect(configError({ MALAN_STORAGE: 's3' }).message).toContain('MALAN_S3_BUCKET="": required with MALAN_STORAGE=s3');
    expect(parseConfig({ MALAN_S3_BUCKET: 'set-but-unused' }).MALAN_STORAGE).toBe('local');
  });

  it.each([
    ['MALAN_STORAGE', 'gcs'],
    ['MALAN_S3_BUCKET', 'Upper_Case'],
    ['MALAN_S3_BUCKET', 'ab'],
    ['MALAN_S3_PREFIX', '/leading'],
    ['MALAN_S3_PREFIX', 'a//b'],
    ['MALAN_S3_ENDPOINT', 'minio:9000'],
    ['MALAN_S3_REGION', 'EU West'],
    ['MALAN_S3_FORCE_PATH_STYLE', 'yes'],
  ])('refuses %s=%s', (name, value) => {
    expect(configError({ MALAN_STORAGE: 's3', MALAN_S3_BUCKET: 'farm-files', [name]: value }).message).toContain(`${name}=${JSON.stringify(value)}`);
  });

  it('counts empty strings as unset', () => {
    const c = parseConfig({ PORT: '', DATABASE_URL: '', MALAN_QUEUE_PREFIX: '', MALAN_ALLOW_PRIVATE_WEBHOOKS: '', MALAN_HOME: '' });
    expect(c).toMatchObject({ PORT: 8080, MALAN_QUEUE_PREFIX: 'malan', MALAN_ALLOW_PRIVATE_WEBHOOKS: false, home: path.resolve('.malan') });
    expect(c.DATABASE_URL).toBeUndefined();
  });
});

describe('the CLI with a bad configuration', () => {
  it('exits with code 2 and names the variable', () => {
    const home = mkdtempSync(path.join(tmpdir(), 'malan-env-'));
    try {
      const result = spawnSync(process.execPath, [cliEntry, 'migrate'], {
        env: { PATH: process.env.PATH ?? '', PORT: 'notaport', MALAN_HOME: home },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(result.status).toBe(2);
      expect(result.stderr).toContain('PORT="notaport"');
      expect(result.stderr).toMatch(/^malan: invalid configuration/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
