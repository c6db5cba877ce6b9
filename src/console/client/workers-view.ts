/** Workers and their GPUs: readings from each heartbeat, what each can run, and what it runs now. */
import { follow } from './api.js';
import { badge, clear, h, link, meter, percent, since } from './dom.js';
import type { Gpu, Worker } from './types.js';
import type { ViewContext } from './view.js';

export function workersView(ctx: ViewContext): void {
  const list = h('div', { class: 'workers' });
  clear(ctx.root, h('h1', {}, 'Workers and GPUs'), list);
  void follow(
    '/v1/console/stream?view=workers',
    (e) => {
      if (e.event !== 'workers') return;
      const workers = (e.data as { results: Worker[] }).results.filter((w) => w.status !== 'stopped');
      clear(list, ...(workers.length ? workers.map(card) : [h('p', { class: 'muted' }, 'No worker is up. Start one with `malan worker`.')]));
    },
    ctx.signal,
    ctx.setLive,
  ).catch((err: Error) => ctx.toast(err.message, 'error'));
}

function card(w: Worker): HTMLElement {
  const caps = w.capabilities;
  const paths = [
    caps.videoAcceleration ? `NVDEC ${caps.videoAcceleration.nvdecCodecs.join('/') || '–'}, NVENC ${caps.videoAcceleration.nvencEncoders.join('/') || '–'}` : 'video on CPU (x264/x265/SVT-AV1)',
    caps.onnxRuntime ? `ONNX Runtime ${caps.onnxRuntime.version}: ${caps.onnxRuntime.providers.join(', ')}` : null,
    ...(caps.renderers ?? []).map((r) => `${r.name} ${r.version ?? ''}`.trim()),
  ].filter((p): p is string => !!p);
  return h(
    'article',
    { class: `worker ${w.status}`, 'data-worker': w.id, 'data-gpus': w.gpus.length },
    h(
      'header',
      {},
      h('h2', {}, w.hostname, h('span', { class: 'muted mono' }, ` ${w.id} · pid ${w.pid}`)),
      badge(w.status, w.status === 'up' ? 'succeeded' : 'failed'),
      w.gpus.length === 0 ? badge('CPU only', 'cpu-only') : badge(`${w.gpus.length} GPU${w.gpus.length > 1 ? 's' : ''}`, 'gpu'),
    ),
    h('p', { class: 'muted' }, `runs ${w.kinds.join(', ')} · heartbeat ${since(w.last_heartbeat_at)}`),
    w.gpus.length > 0 && gpuTable(w.gpus),
    h('div', { class: 'paths' }, h('strong', {}, 'Can run: '), paths.join(' · ')),
    (caps.notes ?? []).length > 0 && h('details', {}, h('summary', {}, `${caps.notes!.length} probe notes`), h('ul', {}, ...caps.notes!.map((n) => h('li', {}, n)))),
    h('div', { class: 'current' }, h('strong', {}, 'Running: '), ...(w.current_jobs.length ? w.current_jobs.flatMap((j, i) => [i ? ', ' : '', link(`/jobs/${j}`, j)]) : ['nothing'])),
  );
}

function gpuTable(gpus: Gpu[]): HTMLElement {
  const cols = ['GPU', 'VRAM', 'GPU util', 'encoder', 'decoder', 'temp', 'power'];
  return h(
    'table',
    { class: 'grid gpus', 'data-table': 'gpus' },
    h('thead', {}, h('tr', {}, ...cols.map((c) => h('th', {}, c)))),
    h(
      'tbody',
      {},
      ...gpus.map((g) =>
        h(
          'tr',
          { 'data-gpu': g.uuid },
          h('td', {}, `${g.index}: ${g.name}`, h('div', { class: 'muted mono' }, g.uuid)),
          h('td', {}, meter(g.memoryTotalMiB ? g.memoryUsedMiB / g.memoryTotalMiB : null, `${(g.memoryUsedMiB / 1024).toFixed(1)} / ${(g.memoryTotalMiB / 1024).toFixed(1)} GiB`)),
          h('td', {}, meter(g.utilizationGpuPercent === null ? null : g.utilizationGpuPercent / 100, percent(g.utilizationGpuPercent))),
          h('td', {}, percent(g.utilizationEncoderPercent)),
          h('td', {}, percent(g.utilizationDecoderPercent)),
          h('td', {}, g.temperatureC === null ? '–' : `${g.temperatureC} °C`),
          h('td', {}, g.powerDrawW === null ? '–' : `${Math.round(g.powerDrawW)} W`),
        ),
      ),
    ),
  );
}
