/**
 * Billing: money per day over the last 30 days as a chart (per tenant for operators, per meter for
 * a tenant), the totals behind it, and the tenant's invoices to download.
 */
import { api, download } from './api.js';
import { timeChart } from './charts.js';
import { clear, h } from './dom.js';
import type { UsageRow } from './types.js';
import type { ViewContext } from './view.js';

const DAYS = 30;
const PALETTE = ['--c1', '--c2', '--c3', '--c4', '--c5', '--c6'];

interface Usage {
  currency: string;
  results: UsageRow[];
}

export function billingView(ctx: ViewContext): void {
  const chartBox = h('section', { class: 'panel' });
  const totals = h('section', { class: 'panel' });
  const invoices = h('section', { class: 'panel' });
  clear(ctx.root, h('h1', {}, 'Billing'), chartBox, totals, invoices);
  const from = new Date(Date.now() - (DAYS - 1) * 86_400_000).toISOString().slice(0, 10);
  const operator = ctx.me.role === 'operator';
  const by = operator ? 'tenant' : 'meter';
  const query = new URLSearchParams({ from, group_by: `day,${by}`, ...(operator && { tenant: 'all' }) });

  let chart: ReturnType<typeof timeChart> | null = null;
  ctx.signal.addEventListener('abort', () => chart?.destroy());
  let tenantNames: Map<string, string> | null = null;
  const load = async () => {
    const usage = await api<Usage>(`/v1/usage?${query}`);
    if (operator && !tenantNames) {
      const list = await api<{ results: Array<{ id: string; name: string }> }>('/v1/admin/tenants');
      tenantNames = new Map(list.results.map((t) => [t.id, t.name]));
    }
    const days = Array.from({ length: DAYS }, (_, i) => new Date(Date.parse(`${from}T00:00:00Z`) + i * 86_400_000).toISOString().slice(0, 10));
    const sum = new Map<string, Map<string, number>>();
    for (const r of usage.results) {
      const raw = String(r[by] ?? '–');
      const name = tenantNames?.get(raw) ?? raw;
      const perDay = sum.get(name) ?? sum.set(name, new Map()).get(name)!;
      perDay.set(r.day!, (perDay.get(r.day!) ?? 0) + r.amount_micros / 1e6);
    }
    const names = [...sum.keys()].sort();
    chart?.destroy();
    clear(chartBox);
    chart = timeChart(
      chartBox,
      `Charges per day by ${by}, ${usage.currency}`,
      names.map((n, i) => ({ label: n, colour: PALETTE[i % PALETTE.length]! })),
      { bars: false, unit: ` ${usage.currency}` },
    );
    chart.update([days.map((d) => Date.parse(`${d}T12:00:00Z`) / 1000), ...names.map((n) => days.map((d) => round(sum.get(n)!.get(d) ?? 0)))]);
    const total = (n: string) => [...sum.get(n)!.values()].reduce((a, v) => a + v, 0);
    clear(
      totals,
      h('h2', {}, `Last ${DAYS} days by ${by}`),
      names.length
        ? h(
            'table',
            { class: 'grid', 'data-table': 'billing' },
            h('thead', {}, h('tr', {}, h('th', {}, by), h('th', { class: 'n' }, usage.currency))),
            h('tbody', {}, ...names.map((n) => h('tr', {}, h('td', {}, n), h('td', { class: 'n' }, money(total(n)))))),
          )
        : h('p', { class: 'muted' }, 'Nothing billed in this range.'),
    );
  };

  const loadInvoices = async () => {
    const list = await api<{ currency: string; results: Array<{ period: string; subtotal: string; charges: number }> }>('/v1/invoices');
    clear(
      invoices,
      h('h2', {}, operator ? 'Invoices of this key’s own tenant' : 'Invoices'),
      list.results.length
        ? h(
            'table',
            { class: 'grid' },
            h('thead', {}, h('tr', {}, h('th', {}, 'period'), h('th', { class: 'n' }, `subtotal (${list.currency})`), h('th', { class: 'n' }, 'charges'), h('th', {}, ''))),
            h(
              'tbody',
              {},
              ...list.results.map((i) =>
                h(
                  'tr',
                  {},
                  h('td', {}, i.period),
                  h('td', { class: 'n' }, i.subtotal),
                  h('td', { class: 'n' }, i.charges),
                  h('td', {}, h('button', { class: 'link', onclick: () => void download(`/v1/invoices/${i.period}?format=html`, `invoice-${i.period}.html`) }, 'HTML'), ' ', h('button', { class: 'link', onclick: () => void download(`/v1/invoices/${i.period}?format=csv`, `invoice-${i.period}.csv`) }, 'CSV')),
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No invoices yet.'),
    );
  };
  const refresh = () =>
    Promise.all([load(), loadInvoices()])
      .then(() => ctx.setLive('live'))
      .catch((err: Error) => ctx.toast(err.message, 'error'));
  void refresh();
  // Charges land when attempts end: a slow refresh keeps the page current without a stream of its own.
  const timer = setInterval(() => void load().catch(() => undefined), 30_000);
  ctx.signal.addEventListener('abort', () => clearInterval(timer));
}

/** Cents when there are any; small farms' first charges are fractions of a cent and should not read as zero. */
function money(v: number): string {
  return v === 0 || v >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

function round(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}
