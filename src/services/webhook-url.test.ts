import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/api-error.js';
import { validateWebhookUrl } from './webhook-url.js';

/** The ApiError that validateWebhookUrl throws for `raw` (fails the test when it throws none). */
function refusal(raw: string, allowPrivate = false): ApiError {
  try {
    validateWebhookUrl(raw, allowPrivate);
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    return err as ApiError;
  }
  throw new Error(`${raw} was accepted`);
}

const PRIVATE = [
  ['http://127.0.0.1/hook', '127.0.0.1'],
  ['http://localhost:3000/hook', 'localhost'],
  ['https://10.1.2.3/hook', '10.1.2.3'],
  ['https://172.16.0.1/hook', '172.16.0.1'],
  ['https://192.168.1.1/hook', '192.168.1.1'],
  ['http://169.254.169.254/latest/meta-data/', '169.254.169.254'],
  ['http://[::1]:8080/hook', '[::1]'],
  ['https://[fd00::1]/hook', '[fd00::1]'],
  ['https://100.64.0.1/hook', '100.64.0.1'],
] as const;

describe('validateWebhookUrl', () => {
  it('accepts a public https URL and returns it parsed', () => {
    const url = validateWebhookUrl('https://example.com/hook', false);
    expect(url).toBeInstanceOf(URL);
    expect(url.href).toBe('https://example.com/hook');
  });

  it('refuses a scheme other than http and https', () => {
    const err = refusal('ftp://example.com/hook');
    expect(err).toMatchObject({ status: 400, code: 'invalid_request', message: 'webhook: only http and https URLs' });
  });

  it('refuses what is not a URL, quoting it', () => {
    const err = refusal('not a url');
    expect(err).toMatchObject({ status: 400, code: 'invalid_request', message: 'webhook: "not a url" is not a URL' });
  });

  it('refuses credentials in the URL', () => {
    expect(refusal('https://user:pass@example.com/hook')).toMatchObject({ status: 400, message: 'webhook: credentials in the URL are not allowed' });
    expect(refusal('https://user@example.com/hook')).toMatchObject({ status: 400 });
  });

  it.each(PRIVATE)('refuses %s, naming the host', (raw, host) => {
    const err = refusal(raw);
    expect(err.status).toBe(400);
    expect(err.code).toBe('invalid_request');
    expect(err.message).toBe(`webhook: ${host} is a loopback or private address; the farm does not call those`);
  });

  it.each(PRIVATE)('accepts %s when private webhooks are allowed', (raw) => {
    expect(validateWebhookUrl(raw, true).href).toBe(new URL(raw).href);
  });

  it('refuses loopback written in other forms that URL normalises', () => {
    for (const raw of ['http://2130706433/', 'http://0x7f.1/', 'http://[::ffff:127.0.0.1]/', 'http://[0:0:0:0:0:0:0:1]/', 'http://api.localhost/']) {
      expect(refusal(raw).status, raw).toBe(400);
    }
  });

  it('accepts public addresses next to the private ranges', () => {
    for (const raw of ['https://172.32.0.1/', 'https://100.128.0.1/', 'https://192.169.0.1/', 'https://11.0.0.1/', 'https://[2001:db8::1]/']) {
      expect(validateWebhookUrl(raw, false).href, raw).toBe(new URL(raw).href);
    }
  });
});
