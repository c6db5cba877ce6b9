import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSecret, UrlSigner } from './url-signer.js';

const BASE = 'http://127.0.0.1:8080';
const NOW = Date.UTC(2025, 0, 1, 12, 0, 0);

/** The path and query of a signed URL, split the way the API reads them. */
function partsOf(signed: string): { pathname: string; expires: string; sig: string } {
  const url = new URL(signed);
  return { pathname: url.pathname, expires: url.searchParams.get('expires')!, sig: url.searchParams.get('sig')! };
}

describe('UrlSigner', () => {
  const signer = new UrlSigner('a-secret-of-at-least-thirty-two-characters', BASE);

  it('signs a URL on the base that verifies for the same method and path', () => {
    const signed = signer.sign('GET', '/v1/files/f_1/content', 60, NOW);
    expect(signed.startsWith(`${BASE}/v1/files/f_1/content?expires=`)).toBe(true);
    const { pathname, expires, sig } = partsOf(signed);
    expect(expires).toBe(String(NOW / 1000 + 60));
    expect(signer.verify('GET', pathname, expires, sig, NOW)).toBe(true);
    expect(signer.verify('GET', pathname, expires, sig, NOW + 60_000)).toBe(true); // the last valid moment
  });

  it('refuses another path, method, signature or expiry', () => {
    const { pathname, expires, sig } = partsOf(signer.sign('PUT', '/v1/worker/outputs/o_1', 60, NOW));
    expect(signer.verify('PUT', pathname, expires, sig, NOW)).toBe(true);
    expect(signer.verify('PUT', '/v1/worker/outputs/o_2', expires, sig, NOW)).toBe(false);
    expect(signer.verify('GET', pathname, expires, sig, NOW)).toBe(false);
    const flipped = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
    expect(signer.verify('PUT', pathname, expires, flipped, NOW)).toBe(false);
    expect(signer.verify('PUT', pathname, expires, sig.slice(1), NOW)).toBe(false);
    expect(signer.verify('PUT', pathname, String(Number(expires) + 3600), sig, NOW)).toBe(false);
    expect(signer.verify('PUT', pathname, undefined, sig, NOW)).toBe(false);
    expect(signer.verify('PUT', pathname, expires, undefined, NOW)).toBe(false);
    expect(signer.verify('PUT', pathname, `${expires}.0`, sig, NOW)).toBe(false);
  });

  it('refuses an expired URL', () => {
    const { pathname, expires, sig } = partsOf(signer.sign('GET', '/v1/files/f_1/content', 60, NOW));
    expect(signer.verify('GET', pathname, expires, sig, NOW + 61_000)).toBe(false);
  });

  it('refuses a URL signed with another secret', () => {
    const other = new UrlSigner('another-secret-of-at-least-thirty-two-chars', BASE);
    const { pathname, expires, sig } = partsOf(other.sign('GET', '/v1/files/f_1/content', 60, NOW));
    expect(signer.verify('GET', pathname, expires, sig, NOW)).toBe(false);
  });
});

describe('loadSecret', () => {
  const dirs: string[] = [];
  const tempHome = () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'malan-secret-'));
    dirs.push(dir);
    return path.join(dir, 'home'); // not there yet: loadSecret creates it
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('generates a secret once, keeps it with mode 0600, and returns it again', () => {
    const home = tempHome();
    const first = loadSecret(home);
    expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 random bytes, base64url
    const file = path.join(home, 'secret');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe(first);
    expect(loadSecret(home)).toBe(first);
  });

  it('gives each home its own secret', () => {
    expect(loadSecret(tempHome())).not.toBe(loadSecret(tempHome()));
  });

  it('returns the configured secret and writes nothing', () => {
    const home = tempHome();
    const configured = 'x'.repeat(40);
    expect(loadSecret(home, configured)).toBe(configured);
    expect(readdirSync(path.dirname(home))).toEqual([]);
  });
});
