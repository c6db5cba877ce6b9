/**
 * Resource ids: a type prefix and 26 characters, time-ordered like a ULID (10 characters of
 * milliseconds, 16 random), lower-case base32 so they survive URLs and file names. Time order
 * makes `id` a stable cursor for newest-first pagination.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

export type IdPrefix = 'file' | 'job' | 'ten' | 'key' | 'wrk' | 'msg' | 'mdl' | 'price' | 'live';

export function newId(prefix: IdPrefix, now = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const bytes = randomBytes(16);
  let rand = '';
  for (const b of bytes) rand += ALPHABET[b % 32];
  return `${prefix}_${time}${rand}`;
}

export const idPattern = (prefix: IdPrefix) => new RegExp(`^${prefix}_[0-9a-z]{26}$`);
