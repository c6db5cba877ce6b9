/**
 * Signed URLs let a worker on any host fetch its inputs and store its outputs over plain HTTP,
 * with no API key and no shared disk. A signature covers the method, the path and the expiry.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export class UrlSigner {
  constructor(
    private readonly secret: string,
    private readonly baseUrl: string,
  ) {}

  sign(method: 'GET' | 'PUT', pathname: string, ttlSeconds: number, now = Date.now()): string {
    const expires = Math.floor(now / 1000) + ttlSeconds;
    const sig = this.mac(method, pathname, expires);
    return `${this.baseUrl}${pathname}?expires=${expires}&sig=${sig}`;
  }

  verify(method: string, pathname: string, expires: string | undefined, sig: string | undefined, now = Date.now()): boolean {
    if (!expires || !sig || !/^\d+$/.test(expires)) return false;
    if (Number(expires) * 1000 < now) return false;
    const expected = Buffer.from(this.mac(method, pathname, Number(expires)));
    const given = Buffer.from(sig);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  private mac(method: string, pathname: string, expires: number): string {
    return createHmac('sha256', this.secret).update(`${method}\n${pathname}\n${expires}`).digest('base64url');
  }
}

/** MALAN_SECRET, or one generated once and kept (mode 600) under MALAN_HOME for every process there. */
export function loadSecret(home: string, configured?: string): string {
  if (configured) return configured;
  const file = path.join(home, 'secret');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    mkdirSync(home, { recursive: true });
    const secret = randomBytes(32).toString('base64url');
    try {
      writeFileSync(file, secret, { flag: 'wx', mode: 0o600 });
    } catch {
      return readFileSync(file, 'utf8').trim(); // another process wrote it first
    }
    chmodSync(file, 0o600);
    return secret;
  }
}
