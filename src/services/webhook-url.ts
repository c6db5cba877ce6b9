/** Webhook URLs are user input that the farm will call: refuse what would reach inside the farm. */
import net from 'node:net';
import { ApiError } from '../api/api-error.js';

export function validateWebhookUrl(raw: string, allowPrivate: boolean): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ApiError('invalid_request', `webhook: "${raw.slice(0, 100)}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ApiError('invalid_request', 'webhook: only http and https URLs');
  if (url.username || url.password) throw new ApiError('invalid_request', 'webhook: credentials in the URL are not allowed');
  if (!allowPrivate && isPrivateHost(url.hostname)) {
    throw new ApiError('invalid_request', `webhook: ${url.hostname} is a loopback or private address; the farm does not call those`);
  }
  return url;
}

export function isPrivateHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase(); // "localhost." is localhost
  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.internal')) return true;
  if (net.isIPv4(host)) {
    const [a, b] = host.split('.').map(Number) as [number, number];
    return a === 10 || a === 127 || a === 0 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127);
  }
  if (net.isIPv6(host)) return host === '::1' || host === '::' || host.startsWith('fc') || host.startsWith('fd') || host.startsWith('fe80') || host.startsWith('::ffff:');
  return false;
}
