/**
 * bull-board at `/admin/queues`, for operators only. A browser cannot send a bearer key when it
 * navigates, so the console's sign-in gives operators a session cookie for this path alone: it
 * carries the key's id and an expiry signed by the farm (never the key), is HttpOnly and
 * SameSite=Strict (another site cannot make an operator's browser press bull-board's buttons),
 * and stops working the moment the key is revoked. A bearer key works too, for scripts.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { ApiError } from '../api-error.js';
import { bearerToken } from '../auth.js';
import type { FarmContext } from '../../services/farm-context.js';
import { authenticate, principalOfKeyId, type Principal } from '../../services/keys.js';

export const BOARD_PATH = '/admin/queues';
const COOKIE = 'malan_board';
const SESSION_TTL_SECONDS = 12 * 3600;

/** The bull-board UI and its API, behind the operator check. */
export function queueBoardApi(ctx: FarmContext) {
  const adapter = new HonoAdapter(serveStatic).setBasePath(BOARD_PATH);
  createBullBoard({
    queues: ctx.queues.all().map((q) => new BullMQAdapter(q)),
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'Malan queues', miscLinks: [{ text: 'Console', url: '/console' }] } },
  });
  return new Hono().use(requireOperatorSession(ctx)).route('/', adapter.registerPlugin());
}

/** The console's sign-in and sign-out for the board: `POST/DELETE /console/session` with the key as a bearer. */
export function boardSessionApi(ctx: FarmContext) {
  return new Hono()
    .post('/', async (c) => {
      const who = await keyPrincipal(ctx, c);
      if (!who) throw new ApiError('unauthorized', 'send your API key as "Authorization: Bearer <key>"', { 'WWW-Authenticate': 'Bearer' });
      if (!who.operator) return c.json({ board: false }); // tenants have no board: nothing to set
      const url = new URL(ctx.signer.sign('GET', `${BOARD_PATH}/${who.keyId}`, SESSION_TTL_SECONDS));
      setCookie(c, COOKIE, `${who.keyId}.${url.searchParams.get('expires')}.${url.searchParams.get('sig')}`, {
        path: BOARD_PATH,
        httpOnly: true,
        sameSite: 'Strict',
        secure: new URL(c.req.url).protocol === 'https:',
        maxAge: SESSION_TTL_SECONDS,
      });
      return c.json({ board: true, url: BOARD_PATH });
    })
    .delete('/', (c) => {
      deleteCookie(c, COOKIE, { path: BOARD_PATH });
      return c.body(null, 204);
    });
}

function requireOperatorSession(ctx: FarmContext): MiddlewareHandler {
  return async (c, next) => {
    const who = (await keyPrincipal(ctx, c)) ?? (await sessionPrincipal(ctx, getCookie(c, COOKIE)));
    if (!who) {
      throw new ApiError('unauthorized', 'sign in to the console (/console) with an operator key, or send one as "Authorization: Bearer <key>"', { 'WWW-Authenticate': 'Bearer' });
    }
    if (!who.operator) throw new ApiError('forbidden', 'the queue board is for operators: sign in with an operator key');
    await next();
  };
}

async function keyPrincipal(ctx: FarmContext, c: Context): Promise<Principal | null> {
  const key = bearerToken(c.req.header('authorization'));
  return key ? authenticate(ctx.db, key) : null;
}

async function sessionPrincipal(ctx: FarmContext, cookie: string | undefined): Promise<Principal | null> {
  const [keyId, expires, sig] = (cookie ?? '').split('.');
  if (!keyId || !ctx.signer.verify('GET', `${BOARD_PATH}/${keyId}`, expires, sig)) return null;
  return principalOfKeyId(ctx.db, keyId);
}
