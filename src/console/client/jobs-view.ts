/** Jobs: filter by kind and status, search by id or name, live progress in every row. */
import { follow } from './api.js';
import { badge, clear, h, link, progressBar, seconds, since } from './dom.js';
import type { Job, JobPage } from './types.js';
import type { ViewContext } from './view.js';

const KINDS = ['transcode', 'render', 'inference'];
const STATUSES = ['queued', 'running', 'paused', 'succeeded', 'failed', 'canceled'];

export function jobsView(ctx: ViewContext): void {
  const params = ctx.params;
  const select = (name: string, options: string[], label: string) =>
    h('select', { name, 'aria-label': label, onchange: apply }, h('option', { value: '' }, `any ${label}`), ...options.map((o) => h('option', { value: o, selected: params.get(name) === o }, o)));
  const search = h('input', { type: 'search', name: 'q', placeholder: 'job id or name', value: params.get('q') ?? '', 'aria-label': 'search' });
  const form = h('form', { class: 'filters', onsubmit: (e: Event) => (e.preventDefault(), apply()) }, select('kind', KINDS, 'kind'), select('status', STATUSES, 'status'), search, h('button', { type: 'submit' }, 'Search'));
  const body = h('tbody');
  const table = h('table', { class: 'grid jobs', 'data-table': 'jobs' }, h('thead', {}, h('tr', {}, ...['job', 'kind', 'status', 'progress', 'created', 'ran'].map((c) => h('th', {}, c)))), body);
  const empty = h('p', { class: 'muted', hidden: true }, 'No jobs match.');
  clear(ctx.root, h('h1', {}, 'Jobs'), form, table, empty);

  function apply() {
    const q = new URLSearchParams();
    for (const el of Array.from(form.elements) as HTMLInputElement[]) if (el.name && el.value) q.set(el.name, el.value);
    location.hash = `/jobs${q.size ? `?${q}` : ''}`;
  }

  const row = (j: Job) =>
    h(
      'tr',
      { 'data-job': j.id, 'data-status': j.status },
      h('td', {}, link(`/jobs/${j.id}`, j.name ?? j.id), j.name && h('div', { class: 'muted mono' }, j.id)),
      h('td', {}, j.kind),
      h('td', {}, badge(j.status)),
      h('td', {}, progressBar(j.progress)),
      h('td', { title: j.created_at }, since(j.created_at)),
      h('td', {}, j.started_at ? seconds(((j.completed_at ? Date.parse(j.completed_at) : Date.now()) - Date.parse(j.started_at)) / 1000) : '–'),
    );
  const stream = new URLSearchParams({ view: 'jobs' });
  for (const k of ['kind', 'status', 'q']) if (params.get(k)) stream.set(k, params.get(k)!);
  void follow(
    `/v1/console/stream?${stream}`,
    (e) => {
      if (e.event !== 'jobs') return;
      const page = e.data as JobPage;
      clear(body, ...page.results.map(row));
      empty.hidden = page.results.length > 0;
    },
    ctx.signal,
    ctx.setLive,
  ).catch((err: Error) => ctx.toast(err.message, 'error'));
}
