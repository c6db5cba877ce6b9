/**
 * Live channels: every channel the key can see with its latency, deadline misses, gaps and each
 * rung's real-time factor, kept live by the console stream; a channel's page with all its figures,
 * its ingest URL (masked: it holds the stream key) and a player at the live edge.
 */
import { api, follow } from './api.js';
import { badge, clear, h, link, seconds, since } from './dom.js';
import { livePlayer } from './live-player.js';
import type { LiveChannel } from './types.js';
import type { ViewContext } from './view.js';

const channels = (data: unknown) => (data as { results: LiveChannel[] }).results;

export function liveView(ctx: ViewContext): void {
  const cols = ['channel', 'status', 'rungs', 'latency p50 / p95', 'deadline misses', 'gaps', 'real-time factor'];
  const body = h('tbody');
  const table = h('table', { class: 'grid', 'data-table': 'live' }, h('thead', {}, h('tr', {}, ...cols.map((c) => h('th', {}, c)))), body);
  const empty = h('p', { class: 'muted', hidden: true }, 'No live channels. Make one with POST /v1/live/channels, then point an encoder at the ingest URL on its page.');
  clear(ctx.root, h('h1', {}, 'Live channels'), table, empty);
  void follow(
    '/v1/console/stream?view=live',
    (e) => {
      if (e.event !== 'live') return;
      const list = channels(e.data);
      clear(body, ...list.map(row));
      empty.hidden = list.length > 0;
    },
    ctx.signal,
    ctx.setLive,
  ).catch((err: Error) => ctx.toast(err.message, 'error'));
}

function row(c: LiveChannel): HTMLElement {
  const m = c.metrics;
  return h(
    'tr',
    { 'data-channel': c.id, 'data-status': c.status },
    h('td', {}, link(`/live/${c.id}`, c.name ?? c.id), c.name && h('div', { class: 'muted mono' }, c.id), c.waiting_for_worker && h('div', { class: 'warn-text' }, `⚠ ${c.waiting_for_worker}`)),
    h('td', {}, statusBadge(c)),
    h('td', {}, rungNames(c)),
    h('td', { class: 'n' }, `${seconds(m.latency_seconds.p50)} / ${seconds(m.latency_seconds.p95)}`),
    h('td', { class: `n ${m.deadline_misses ? 'bad' : ''}` }, m.deadline_misses),
    h('td', { class: `n ${m.segments.gaps ? 'bad' : ''}` }, m.segments.gaps),
    h('td', {}, realtimeFactors(c)),
  );
}

export function liveChannelView(ctx: ViewContext, id = ''): void {
  const head = h('header', { class: 'job-head' });
  const warning = h('div', { class: 'warn-box', role: 'alert', hidden: true });
  const figures = h('section', { class: 'panel facts' });
  const player = h('section', { class: 'panel' }, h('h2', {}, 'Playback'), h('p', { class: 'muted' }, 'The player starts with the first published segment: start the encoder.'));
  const ingest = h('section', { class: 'panel' });
  clear(ctx.root, head, warning, figures, player, ingest);
  let shownIngest = '';
  let playing = false;

  const draw = (c: LiveChannel) => {
    clear(
      head,
      h('div', {}, h('h1', {}, c.name ?? c.id), h('div', { class: 'muted mono' }, c.id)),
      h('div', { class: 'status-line' }, statusBadge(c)),
      c.status !== 'ended' && h('div', { class: 'actions' }, h('button', { class: 'danger', onclick: () => void stop(c) }, 'Stop')),
    );
    warning.hidden = !c.waiting_for_worker;
    warning.textContent = c.waiting_for_worker ?? '';
    clear(figures, channelFigures(c));
    // Drawn once: redrawing every tick would hide the URL again while someone copies it.
    if (c.ingest_url !== shownIngest) {
      shownIngest = c.ingest_url;
      clear(ingest, ...ingestPanel(c, ctx));
    }
    // The master playlist exists from the first segment on (it names the rungs).
    if (!playing && c.rungs) {
      playing = true;
      clear(player, h('h2', {}, 'Playback'), livePlayer(c.playback_url, ctx.signal));
    }
  };

  async function stop(c: LiveChannel) {
    if (!confirm(`Stop ${c.name ?? c.id}? The encoder is refused from now on; the playlists close after the last segments.`)) return;
    try {
      draw(await api<LiveChannel>(`/v1/live/channels/${encodeURIComponent(id)}/stop`, { method: 'POST' }));
      ctx.toast('channel stopped', 'ok');
    } catch (err) {
      ctx.toast((err as Error).message, 'error');
    }
  }

  void follow(`/v1/console/stream?view=live&channel=${encodeURIComponent(id)}`, (e) => e.event === 'live' && draw(channels(e.data)[0]!), ctx.signal, ctx.setLive).catch((err: Error) => {
    clear(ctx.root, h('h1', {}, 'Live channel'), h('div', { class: 'error-box', role: 'alert' }, err.message));
  });
}

function channelFigures(c: LiveChannel): HTMLElement {
  const m = c.metrics;
  const gaps = Object.entries(m.gaps_by_reason).map(([reason, n]) => `${n} ${reason}`).join(', ');
  const figure = (name: string, label: string, value: string | number | Node, tone = '') => [h('dt', {}, label), h('dd', { 'data-figure': name, class: tone }, value)];
  return h(
    'dl',
    {},
    ...figure('latency', 'latency p50 / p95 / p99', `${seconds(m.latency_seconds.p50)} / ${seconds(m.latency_seconds.p95)} / ${seconds(m.latency_seconds.p99)}`),
    ...figure('queue-wait', 'waited for a worker p50 / p95', `${seconds(m.queue_wait_seconds.p50)} / ${seconds(m.queue_wait_seconds.p95)}`),
    ...figure('published', 'segments published', m.segments.published),
    ...figure('pending', 'segments in work', m.segments.pending),
    ...figure('deadline-misses', 'deadline misses', m.deadline_misses, m.deadline_misses ? 'bad' : ''),
    ...figure('gaps', 'gaps', gaps || '0', m.segments.gaps ? 'bad' : ''),
    ...figure('rtf', 'real-time factor p50 (max)', realtimeFactors(c, true)),
    ...figure('rungs', 'rungs', rungNames(c)),
    ...figure('timing', 'segment · window · deadline', `${c.segment_duration} s · ${c.window_size} segments · ${seconds(c.segment_duration * c.deadline_factor)}`),
    ...figure('started', c.ended_at ? 'ended' : 'started', since(c.ended_at ?? c.started_at)),
  );
}

/** The ingest URL holds the stream key: masked until asked for, and copied without showing it. */
function ingestPanel(c: LiveChannel, ctx: ViewContext): Node[] {
  const masked = c.ingest_url.replace(/[^/]+$/, '•'.repeat(12));
  const url = h('button', { class: 'secret mono', 'data-ingest': 'masked', title: 'show the URL (it holds the stream key)', 'aria-pressed': 'false' }, masked);
  url.addEventListener('click', () => {
    const show = url.dataset.ingest === 'masked';
    url.dataset.ingest = show ? 'shown' : 'masked';
    url.setAttribute('aria-pressed', String(show));
    url.textContent = show ? c.ingest_url : masked;
  });
  const copy = h('button', { onclick: () => void copyText(c.ingest_url).then((ok) => ctx.toast(ok ? 'ingest URL copied' : 'the browser refused to copy: show the URL and copy it by hand', ok ? 'ok' : 'error')) }, 'Copy');
  const d = c.segment_duration;
  return [
    h('h2', {}, 'Ingest'),
    h('div', { class: 'ingest-url' }, url, copy),
    h('p', { class: 'muted small' }, 'Anyone with this URL can push to the channel. An encoder sends HLS to it with PUT, a keyframe at every segment boundary:'),
    h('pre', { class: 'command mono' }, `ffmpeg -re -i SOURCE -c:v libx264 -preset veryfast -force_key_frames "expr:gte(t,n_forced*${d})" -sc_threshold 0 -c:a aac -f hls -hls_time ${d} -hls_list_size 5 -method PUT "<ingest URL>/index.m3u8"`),
  ];
}

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No clipboard API outside a secure context (plain http to a farm host): the old way.
    const area = h('textarea', { class: 'offscreen', readonly: true });
    area.value = text;
    document.body.append(area);
    area.select();
    const copied = document.execCommand('copy');
    area.remove();
    return copied;
  }
}

function statusBadge(c: LiveChannel): HTMLElement {
  return badge(c.status, c.status === 'live' ? 'running' : c.status === 'idle' ? 'queued' : 'ended');
}

function rungNames(c: LiveChannel): string {
  if (!c.rungs) return 'set by the first segment';
  return c.rungs.map((r) => (r.passthrough ? `${r.name} (${r.height}p as sent)` : r.name)).join(', ');
}

/** Encode time ÷ segment duration per rung: under 1 keeps up with the encoder, at 1 or more it falls behind. */
function realtimeFactors(c: LiveChannel, withMax = false): HTMLElement {
  // In the ladder's order (top rung first) rather than the figures' alphabetical one.
  const order = (c.rungs ?? []).map((r) => r.name);
  const rank = (name: string) => (order.includes(name) ? order.indexOf(name) : order.length);
  const rungs = Object.entries(c.metrics.realtime_factor).sort(([a], [b]) => rank(a) - rank(b));
  if (!rungs.length) return h('span', { class: 'muted' }, '–');
  return h(
    'span',
    { class: 'rtf', title: 'encode time ÷ segment duration; under 1 keeps up' },
    ...rungs.flatMap(([name, f], i) => [i ? ' · ' : '', h('span', { class: f.p50 >= 1 ? 'bad' : '', 'data-rung': name }, `${name} ${f.p50.toFixed(2)}${withMax ? ` (${f.max.toFixed(2)})` : ''}`)]),
  );
}
