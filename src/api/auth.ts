/** Bearer API keys on every /v1 route. */
import type { MiddlewareHandler } from 'hono';
import { ApiError } from './api-error.js';
import { authenticate, type Principal } from '../services/keys.js';
import type { FarmContext } from '../services/farm-context.js';

export type ApiEnv = { Variables: { principal: Principal } };

export function bearerToken(header: string | undefined): string | null {
  const m = /^(?:Bearer|Token)\s+(\S+)$/i.exec(header ?? ''); // "Token" is what older Replicate clients send
  return m ? m[1]! : null;
}

export function requireKey(ctx: FarmContext): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const key = bearerToken(c.req.header('authorization'));
    if (!key) throw new ApiError('unauthorized', 'send an API key as "Authorization: Bearer <key>" (create one with: malan keys create --tenant NAME)', { 'WWW-Authenticate': 'Bearer' });
    const principal = await authenticate(ctx.db, key);
    if (!principal) throw new ApiError('unauthorized', 'this API key is not valid (unknown or revoked)', { 'WWW-Authenticate': 'Bearer' });
    c.set('principal', principal);
    await next();
  };
}
