/**
 * The console shell: sign-in with an API key, the navigation, hash routes (#/overview, #/jobs,
 * #/jobs/<id>, #/live, #/live/<id>, #/workers, #/billing), the theme, and a live/reconnecting indicator. Each screen is
 * a function that draws into the main area and stops its streams when the route changes.
 */
import { api, ApiFailure, session } from './api.js';
import { billingView } from './billing-view.js';
import { clear, h } from './dom.js';
import { jobDetailView } from './job-detail-view.js';
import { jobsView } from './jobs-view.js';
import { liveChannelView, liveView } from './live-view.js';
import { overviewView } from './overview-view.js';
import type { Me, Overview } from './types.js';
import type { View } from './view.js';
import { workersView } from './workers-view.js';

/** `detail` draws `#/<path>/<id>`; a route without one ignores the id. */
const ROUTES: Array<{ path: string; title: string; view: View; detail?: View; operator?: boolean }> = [
  { path: 'overview', title: 'Overview', view: overviewView },
  { path: 'jobs', title: 'Jobs', view: jobsView, detail: jobDetailView },
  { path: 'live', title: 'Live', view: liveView, detail: liveChannelView },
  { path: 'workers', title: 'Workers', view: workersView, operator: true },
  { path: 'billing', title: 'Billing', view: billingView },
];

const app = document.getElementById('app')!;
let leave = new AbortController();

applyTheme(localStorage.getItem('malan.theme') ?? (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'));
void start();

async function start() {
  if (!session.key()) return signIn();
  try {
    const o = await api<Overview>('/v1/console/overview');
    shell({ role: o.role, tenant: o.tenant });
  } catch (err) {
    session.forget();
    signIn(err instanceof ApiFailure ? err.message : String(err));
  }
}

function signIn(problem?: string) {
  const key = h('input', { type: 'password', name: 'key', autocomplete: 'current-password', placeholder: 'mk_…', required: true, 'aria-label': 'API key' });
  const error = h('p', { class: 'error-box', role: 'alert', hidden: !problem }, problem ?? '');
  const form = h(
    'form',
    {
      class: 'sign-in',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        session.save(key.value.trim());
        try {
          await api('/console/session', { method: 'POST' }); // the queue board's cookie, for operator keys
        } catch (err) {
          session.forget();
          error.textContent = err instanceof ApiFailure && err.status === 401 ? 'This API key is not valid (unknown or revoked).' : (err as Error).message;
          error.hidden = false;
          return;
        }
        await start();
      },
    },
    h('h1', {}, 'Malan console'),
    h('p', { class: 'muted' }, 'Sign in with an API key. Operator keys see the whole farm; a tenant key sees its own jobs and usage.'),
    key,
    h('button', { type: 'submit' }, 'Sign in'),
    error,
    h('p', { class: 'muted small' }, 'No key? An operator creates one: malan keys create --tenant NAME'),
  );
  clear(app, form);
  key.focus();
}

function shell(me: Me) {
  const live = h('span', { class: 'live', 'data-live': 'connecting', title: 'live updates' }, 'connecting');
  const toasts = h('div', { class: 'toasts', 'aria-live': 'polite' });
  const nav = h('nav', {}, ...ROUTES.filter((r) => !r.operator || me.role === 'operator').map((r) => h('a', { href: `#/${r.path}`, 'data-nav': r.path }, r.title)));
  if (me.role === 'operator') nav.append(h('a', { href: '/admin/queues', class: 'external' }, 'Queue board ↗'));
  const main = h('main', { id: 'main' });
  clear(
    app,
    h(
      'header',
      { class: 'top' },
      h('a', { class: 'brand', href: '#/overview' }, 'Malan'),
      nav,
      h(
        'div',
        { class: 'who' },
        live,
        h('span', { class: 'tenant', 'data-role': me.role }, `${me.tenant} · ${me.role}`),
        h('button', { class: 'icon', title: 'light / dark', 'aria-label': 'switch theme', onclick: () => applyTheme(document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark') }, '◐'),
        h('button', { class: 'link', onclick: signOut }, 'Sign out'),
      ),
    ),
    main,
    toasts,
  );
  const toast = (message: string, tone: 'error' | 'ok' = 'error') => {
    const t = h('div', { class: `toast ${tone}`, role: tone === 'error' ? 'alert' : 'status' }, message);
    toasts.append(t);
    setTimeout(() => t.remove(), 6000);
  };
  const route = () => {
    leave.abort();
    leave = new AbortController();
    const [pathPart = 'overview', query = ''] = location.hash.replace(/^#\/?/, '').split('?');
    const [name = 'overview', id] = pathPart.split('/');
    const r = ROUTES.find((x) => x.path === name) ?? ROUTES[0]!;
    for (const a of nav.querySelectorAll('a[data-nav]')) a.classList.toggle('on', (a as HTMLElement).dataset.nav === r.path);
    if (r.operator && me.role !== 'operator') {
      clear(main, h('div', { class: 'error-box', role: 'alert' }, 'This page is for operators: sign in with an operator key.'));
      return;
    }
    const setLive = (s: string) => {
      live.dataset.live = s;
      live.textContent = s;
    };
    setLive('connecting');
    const view = (id && r.detail) || r.view;
    view({ root: main, me, params: new URLSearchParams(query), signal: leave.signal, setLive, toast }, id && decodeURIComponent(id));
    document.title = `${r.title} · Malan`;
  };
  window.onhashchange = route;
  route();
}

async function signOut() {
  leave.abort();
  await api('/console/session', { method: 'DELETE' }).catch(() => undefined);
  session.forget();
  location.hash = '';
  signIn();
}

function applyTheme(theme: string) {
  document.documentElement.dataset.theme = theme;
  localStorage.setItem('malan.theme', theme);
  document.dispatchEvent(new Event('themechange'));
}
