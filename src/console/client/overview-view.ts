/** Overview: what waits and runs, what ended this hour, how long jobs waited, queues, workers, failures. */
import { follow } from './api.js';
import { timeChart } from './charts.js';
import { badge, clear, h, link, percent, seconds, since } from './dom.js';
import type { Overview } from './types.js';
import type { ViewContext } from './view.js';

const QUEUE_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'waiting-children', 'failed'] as const;

export function overviewView(ctx: ViewContext): void {
  const cards = h('section', { class: 'cards', 'aria-label': 'at a glance' });
  const charts = h('section', { class: 'panel' });
  const queues = h('section', { class: 'panel', hidden: true });
  const failures = h('section', { class: 'panel' });
  clear(ctx.root, h('h1', {}, 'Overview'), cards, charts, queues, failures);
  const chart = timeChart(charts, 'Jobs ended per minute, last hour', [
    { label: 'succeeded', colour: '--ok' },
    { label: 'failed', colour: '--bad' },
  ], { bars: true });
  ctx.signal.addEventListener('abort', () => chart.destroy());

  const draw = (o: Overview) => {
    const card = (label: string, value: string | number, tone = '', hint = '') =>
      h('div', { class: `card ${tone}`, 'data-card': label }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value), hint && h('div', { class: 'hint' }, hint));
    clear(
      cards,
      card('Queued', o.jobs.queued, o.jobs.queued > 0 ? 'warn' : ''),
      card('Running', o.jobs.running, o.jobs.running > 0 ? 'busy' : ''),
      card('Succeeded (1 h)', o.last_hour.succeeded, 'ok'),
      card('Failed (1 h)', o.last_hour.failed, o.last_hour.failed > 0 ? 'bad' : ''),
      card('Wait p50 / p95', `${seconds(o.last_hour.wait_p50_s)} / ${seconds(o.last_hour.wait_p95_s)}`, '', 'submission to start, last hour'),
      o.workers && card('Workers up', o.workers.up, o.workers.up === 0 ? 'bad' : '', o.workers.lost ? `${o.workers.lost} lost` : `${o.workers.cpu_only} CPU-only`),
      o.workers && card('GPUs', o.workers.gpus, '', o.workers.gpus ? `avg util ${percent(o.workers.gpu_util_avg)}` : 'none reporting: all work on CPU'),
    );
    chart.update([o.throughput.map((t) => Date.parse(t.minute) / 1000), o.throughput.map((t) => t.succeeded), o.throughput.map((t) => t.failed)]);
    if (o.queues) {
      queues.hidden = false;
      clear(
        queues,
        h('h2', {}, 'Queues ', h('a', { href: '/admin/queues', class: 'aside' }, 'open the queue board →')),
        h(
          'table',
          { class: 'grid', 'data-table': 'queues' },
          h('thead', {}, h('tr', {}, h('th', {}, 'queue'), ...QUEUE_STATES.map((s) => h('th', { class: 'n' }, s)))),
          h(
            'tbody',
            {},
            ...o.queues.map((q) =>
              h('tr', {}, h('td', {}, h('a', { href: `/admin/queues/queue/${encodeURIComponent(q.name)}` }, q.name)), ...QUEUE_STATES.map((s) => h('td', { class: `n ${s === 'failed' && q.counts[s] ? 'bad' : ''}` }, q.counts[s] ?? 0))),
            ),
          ),
        ),
      );
    }
    clear(
      failures,
      h('h2', {}, 'Failures in the last hour'),
      o.failures.length
        ? h(
            'ul',
            { class: 'failures' },
            ...o.failures.map((f) =>
              h('li', {}, badge(f.code ?? 'failed', 'failed'), ' ', link(`/jobs/${f.id}`, f.name ?? f.id), h('span', { class: 'muted' }, ` ${f.kind} · ${since(f.completed_at)}`), f.message && h('div', { class: 'msg' }, f.message)),
            ),
          )
        : h('p', { class: 'muted' }, 'None. '),
    );
  };
  void follow('/v1/console/stream?view=overview', (e) => e.event === 'overview' && draw(e.data as Overview), ctx.signal, ctx.setLive).catch((err: Error) => ctx.toast(err.message, 'error'));
}
