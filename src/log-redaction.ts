/**
 * What the farm's logs must never carry. Named fields are censored by pino's `redact`; secrets
 * inside text (a signed URL in an error message, a password in a connection URL) are caught by
 * `scrubText`, which every message and string field goes through.
 */

export const CENSOR = '[redacted]';

const SECRET_FIELDS = [
  'authorization',
  'cookie',
  'apiKey',
  'api_key',
  'key',
  'secret',
  'webhookSecret',
  'webhook_secret',
  'streamKey',
  'stream_key',
  'password',
  'token',
  'sig',
  'signature',
  '"webhook-signature"',
  '"x-api-key"',
];

/** Top level and one level down (`headers.authorization`, `tenant.webhookSecret`); pino's `*` spans one level. */
export const REDACT_PATHS = SECRET_FIELDS.flatMap((f) => (f.startsWith('"') ? [`[${f}]`, `*[${f}]`] : [f, `*.${f}`]));

// Query parameters that authorise whoever holds the URL: ours (`sig`) and the usual cloud ones.
const SECRET_QUERY = /([?&](?:sig|signature|x-amz-signature|x-amz-security-token|x-goog-signature|token|access_token|api_key|apikey|key|secret)=)[^&#\s"'<>]*/gi;
// `scheme://user:password@host`: the user stays (it says which account), the password goes.
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)[^@\s/]+@/gi;

// The farm's own secrets have prefixes (src/services/keys.ts), so they are caught in any text.
const PREFIXED_SECRET = /\b(mk_|whsec_)[A-Za-z0-9_+/=-]{16,}/g;
const BEARER = /\b(Bearer) [A-Za-z0-9._~+/=-]+/g;

export function scrubText(text: string): string {
  return text
    .replace(SECRET_QUERY, `$1${CENSOR}`)
    .replace(URL_PASSWORD, `$1${CENSOR}@`)
    .replace(PREFIXED_SECRET, `$1${CENSOR}`)
    .replace(BEARER, `$1 ${CENSOR}`);
}

/** Strings anywhere in a log call's fields, scrubbed; the caller's object is left as it was. */
export function scrubFields<T>(value: T, depth = 0): T {
  if (typeof value === 'string') return scrubText(value) as T;
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => scrubFields(v, depth + 1)) as T;
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubFields(v, depth + 1)])) as T;
}
