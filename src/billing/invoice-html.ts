/**
 * An invoice as one printable HTML page: self-contained (inline CSS, no scripts, nothing fetched),
 * sized for A4. Pure: the invoice in, the page out. Tenant names and GPU model names come from
 * users and workers, so every value goes in through `html`, which escapes it.
 */
import type { Invoice, InvoiceLine } from './invoice-shape.js';

export function invoiceHtml(inv: Invoice): string {
  const cur = inv.currency;
  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Invoice ${inv.period} — ${inv.tenant.name}</title>
<style>${raw(STYLE)}</style>
</head>
<body>
<main class="invoice">
<h1>Invoice ${inv.period}</h1>
<dl class="facts">
<dt>Tenant</dt><dd>${inv.tenant.name} <span class="id">${inv.tenant.id}</span></dd>
<dt>Invoice</dt><dd class="id">${inv.id}</dd>
<dt>Period</dt><dd>from ${instant(inv.period_start)} until ${instant(inv.period_end)}</dd>
<dt>Status</dt><dd>${status(inv.status)}</dd>
<dt>Generated</dt><dd>${instant(inv.generated_at)}</dd>
</dl>
<table class="lines">
<thead><tr><th>Description</th><th class="num">Quantity</th><th class="num">Unit price (${cur})</th><th class="num">Amount (${cur})</th></tr></thead>
<tbody>
${inv.lines.length > 0 ? inv.lines.map(lineRow) : html`<tr><td colspan="4" class="empty">No usage in this period.</td></tr>`}
</tbody>
<tfoot>
<tr><th colspan="3">Subtotal</th><td class="num">${inv.subtotal}</td></tr>
<tr><th colspan="3">Rounding to the cent</th><td class="num">${inv.rounding}</td></tr>
<tr class="due"><th colspan="3">Amount due</th><td class="num">${inv.amount_due} ${cur}</td></tr>
</tfoot>
</table>
<p class="footnote">The lines add up to the ledger: ${plural(inv.ledger.charges, 'charge')}, ${inv.ledger.amount} ${cur}.</p>
</main>
</body>
</html>
`;
  return page.text;
}

function lineRow(line: InvoiceLine): Html {
  // The billed quantity is after each attempt's rounding and minimum; show the measured one when it differs.
  const measured = line.measured_quantity !== line.quantity ? html`<div class="detail">measured ${line.measured_quantity}</div>` : raw('');
  return html`<tr>
<td>${line.description}<div class="detail">${line.meter} · ${plural(line.charges, 'charge')}</div></td>
<td class="num">${line.quantity} <span class="unit">${line.unit}</span>${measured}</td>
<td class="num">${line.unit_price}</td>
<td class="num">${line.amount}</td>
</tr>
`;
}

function status(s: Invoice['status']): Html {
  switch (s) {
    case 'open':
      return html`<span class="open">open: the month is not over, lines may still grow</span>`;
    case 'closed':
      return html`closed`;
    default: {
      const never: never = s;
      return html`${String(never)}`;
    }
  }
}

/** An ISO instant as `2025-06-01 00:00 UTC`; a value that is not a date is shown as it is. */
function instant(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const s = d.toISOString();
  return `${s.slice(0, 10)} ${s.slice(11, 16)} UTC`;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** HTML that is already safe; only this module makes it, from literals and escaped values. */
class Html {
  constructor(readonly text: string) {}
}

function raw(text: string): Html {
  return new Html(text);
}

type Value = string | number | Html | Html[];

/** A template whose interpolations are escaped unless they are `Html` already: escaping by construction. */
function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

function render(v: Value): string {
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map((h) => h.text).join('');
  return escapeHtml(String(v));
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

const STYLE = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body {
  margin: 0; background: #f3f4f6; color: #1f2430;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif;
}
.invoice { max-width: 210mm; margin: 24px auto; padding: 16mm; background: #fff; box-shadow: 0 1px 4px rgba(0, 0, 0, .12); }
h1 { margin: 0 0 16px; font-size: 24px; font-weight: 600; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 20px; margin: 0 0 24px; }
.facts dt { color: #5c6577; }
.facts dd { margin: 0; overflow-wrap: anywhere; }
.id { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; color: #5c6577; }
.open { padding: 1px 6px; border: 1px solid #c58a00; border-radius: 3px; background: #fff6dc; color: #6e4b00; }
table { width: 100%; border-collapse: collapse; }
th, td { padding: 6px 8px; border-bottom: 1px solid #e2e5ea; text-align: left; vertical-align: top; }
thead th { border-bottom: 1.5px solid #1f2430; color: #5c6577; font-size: 12px; font-weight: 600; }
td:first-child { overflow-wrap: anywhere; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.unit, .detail { color: #5c6577; font-size: 12px; }
.empty { color: #5c6577; font-style: italic; }
tfoot th { font-weight: normal; text-align: right; }
tfoot tr:first-child > * { border-top: 1.5px solid #1f2430; }
tfoot .due > * { border-bottom: none; font-size: 16px; font-weight: 700; }
.footnote { margin: 24px 0 0; color: #5c6577; font-size: 12px; }
@page { size: A4; margin: 16mm; }
@media print {
  body { background: none; font-size: 10.5pt; }
  .invoice { max-width: none; margin: 0; padding: 0; box-shadow: none; }
  thead { display: table-header-group; }
  /* Browsers repeat a tfoot on every printed page; the totals belong once, at the end. */
  tfoot { display: table-row-group; }
  tr { break-inside: avoid; }
}
`;
