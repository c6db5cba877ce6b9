/** One job: live status and progress, its log as it is written, outputs with previews, cancel and retry. */
import { api, follow } from './api.js';
import { badge, clear, h, progressBar, seconds, since } from './dom.js';
import { outputsPanel } from './outputs.js';
import type { Job } from './types.js';
import type { ViewContext } from './view.js';

const TERMINAL = ['succeeded', 'failed', 'canceled'];

interface LogLine {
  t: string;
  level: string;
  msg: string;
}

export function jobDetailView(ctx: ViewContext, id = ''): void {
  const head = h('header', { class: 'job-head' });
  const facts = h('section', { class: 'panel facts' });
  const outputs = h('div');
  const log = h('pre', { class: 'log', 'data-log': id, tabindex: 0, 'aria-label': 'job log' });
  const follow_ = h('label', { class: 'aside' }, h('input', { type: 'checkbox', checked: true }), ' follow');
  const logPanel = h('section', { class: 'panel' }, h('h2', {}, 'Log ', follow_), log);
  clear(ctx.root, head, facts, outputs, logPanel);
  let job: Job | null = null;
  let shownOutputs = '';

  const draw = (j: Job) => {
    job = j;
    const actions = h('div', { class: 'actions' });
    if (!TERMINAL.includes(j.status)) actions.append(h('button', { class: 'danger', onclick: () => act('cancel') }, 'Cancel'));
    if (j.status === 'failed' || j.status === 'canceled') actions.append(h('button', { onclick: () => act('retry') }, 'Retry'));
    clear(
      head,
      h('div', {}, h('h1', {}, j.name ?? j.id), h('div', { class: 'muted mono' }, `${j.kind} · ${j.id}`)),
      h('div', { class: 'status-line' }, badge(j.status), progressBar(j.progress)),
      actions,
    );
    const ran = j.started_at ? ((j.completed_at ? Date.parse(j.completed_at) : Date.now()) - Date.parse(j.started_at)) / 1000 : null;
    const fallbacks = j.execution?.fallbacks ?? [];
    clear(
      facts,
      j.error && h('div', { class: 'error-box', role: 'alert' }, h('strong', {}, j.error.code), ' ', j.error.message),
      h(
        'dl',
        {},
        ...([
          ['submitted', since(j.created_at)],
          ['waited', j.started_at ? seconds((Date.parse(j.started_at) - Date.parse(j.created_at)) / 1000) : '–'],
          ['ran', seconds(ran)],
          ['attempts', String(j.attempts)],
          ['path', j.execution?.path ?? '–'],
          ['CPU time', seconds(j.usage.cpu_seconds)],
          ['GPU time', j.usage.gpu_seconds ? `${seconds(j.usage.gpu_seconds)} on ${j.usage.gpu_model ?? 'GPU'}` : 'none'],
        ] as const).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
      ),
      fallbacks.length > 0 && h('div', { class: 'warn-box' }, `Fell back ${fallbacks.length}×: `, fallbacks.map((f) => `${f.path} (${f.reason ?? f.error ?? 'failed'})`).join('; ')),
    );
    const key = j.outputs.map((o) => o.name ?? o.file).join('|') + (j.outputs.some((o) => o.playback_url) ? '+' : '');
    if (key !== shownOutputs) {
      shownOutputs = key;
      clear(outputs, j.outputs.length ? outputsPanel(j.outputs, ctx.signal) : null);
    }
  };

  const addLines = (lines: LogLine[]) => {
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
    for (const l of lines) {
      // Text nodes only: a log line is never markup, whatever it contains.
      const row = h('span', { class: `line ${l.level}` }, h('span', { class: 't' }, l.t.slice(11, 19)), ' ', l.msg);
      log.append(row, '\n');
    }
    if ((follow_.querySelector('input') as HTMLInputElement).checked && atBottom) log.scrollTop = log.scrollHeight;
  };

  async function act(what: 'cancel' | 'retry') {
    try {
      const res = await api<Job>(`/v1/jobs/${encodeURIComponent(id)}/${what}`, { method: 'POST' });
      if (what === 'retry') {
        ctx.toast(`retrying as ${res.id}`, 'ok');
        location.hash = `/jobs/${res.id}`;
      } else draw(res);
    } catch (err) {
      ctx.toast((err as Error).message, 'error');
    }
  }

  const refresh = async () => draw(await api<Job>(`/v1/jobs/${encodeURIComponent(id)}`));
  void refresh()
    .then(() =>
      follow(
        `/v1/jobs/${encodeURIComponent(id)}/events`,
        (e) => {
          if (e.event === 'log') addLines((e.data as { lines: LogLine[] }).lines);
          else if (e.event === 'done') draw(e.data as Job);
          else if (e.event === 'progress' && job) draw({ ...job, progress: (e.data as { progress: number }).progress });
          else if (e.event === 'status' || e.event === 'output' || e.event === 'task') void refresh();
        },
        ctx.signal,
        (state) => {
          if (state === 'live') log.replaceChildren(); // each connection replays the whole log
          ctx.setLive(state);
        },
      ),
    )
    .catch((err: Error) => {
      clear(ctx.root, h('h1', {}, 'Job'), h('div', { class: 'error-box', role: 'alert' }, err.message));
    });
}
