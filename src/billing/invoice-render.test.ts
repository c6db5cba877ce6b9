import { describe, expect, it } from 'vitest';
import { INVOICE_CSV_HEADER, invoiceCsv } from './invoice-csv.js';
import { invoiceHtml } from './invoice-html.js';
import type { Invoice, InvoiceLine } from './invoice-shape.js';

const HOSTILE_NAME = '<script>alert(1)</script> & "Co"';

// Built by hand: 5.490000 + 1.350000 + 0.030864 = 6.870864, due 6.87.
function invoice(over: Partial<Invoice> = {}): Invoice {
  const lines: InvoiceLine[] = [
    {
      meter: 'gpu_seconds', description: 'GPU time — NVIDIA H100 80GB HBM3', gpu_model: 'NVIDIA H100 80GB HBM3', resolution: null, codec: null,
      quantity: 3600, measured_quantity: 3598.2, unit: 'GPU-second', unit_price: '0.001525000', price_id: 'price_gpu_h100',
      amount: '5.490000', amount_micros: 5_490_000, charges: 12,
    },
    {
      meter: 'output_minutes', description: 'Output minutes, HD "h264"', gpu_model: null, resolution: 'HD', codec: 'h264',
      quantity: 90, measured_quantity: 90, unit: 'output minute', unit_price: '0.015000000', price_id: null,
      amount: '1.350000', amount_micros: 1_350_000, charges: 3,
    },
    {
      meter: 'frames_rendered', description: "=cmd|' /C calc'!A0", gpu_model: '@SUM(A1:A9)', resolution: null, codec: null,
      quantity: 250, measured_quantity: 250, unit: 'frame', unit_price: '0.000123457', price_id: null,
      amount: '0.030864', amount_micros: 30_864, charges: 1,
    },
  ];
  return {
    object: 'invoice',
    id: 'inv_ten01_2025-06',
    tenant: { id: 'ten_01', name: HOSTILE_NAME },
    period: '2025-06',
    period_start: '2025-06-01T00:00:00.000Z',
    period_end: '2025-07-01T00:00:00.000Z',
    status: 'open',
    currency: 'EUR',
    lines,
    subtotal: '6.870864',
    subtotal_micros: 6_870_864,
    amount_due: '6.87',
    rounding: '-0.000864',
    ledger: { charges: 16, amount: '6.870864', amount_micros: 6_870_864 },
    generated_at: '2025-06-18T09:30:12.345Z',
    ...over,
  };
}

/** RFC 4180, strictly: CRLF between records, quotes only around a whole field. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c !== '"') {
        field += c;
      } else if (text[i + 1] === '"') {
        field += '"';
        i++;
      } else {
        quoted = false;
      }
    } else if (c === '"') {
      if (field !== '') throw new Error(`a quote inside an unquoted field at ${i}`);
      quoted = true;
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else if (c === '\r' || c === '\n') {
      throw new Error(`a bare line break at ${i}`);
    } else {
      field += c;
    }
  }
  if (quoted) throw new Error('the text ends inside a quoted field');
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  return rows;
}

/** `"-0.000864"` → -864n micros, by digits only: no float ever sees the amount. */
function micros(decimal: string): bigint {
  const m = /^(-?)(\d+)(?:\.(\d{1,6}))?$/.exec(decimal);
  if (!m) throw new Error(`not an amount: ${decimal}`);
  const value = BigInt(m[2]!) * 1_000_000n + BigInt((m[3] ?? '').padEnd(6, '0'));
  return m[1] ? -value : value;
}

function records(inv: Invoice): Record<string, string>[] {
  const [header, ...rows] = parseCsv(invoiceCsv(inv));
  return rows.map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i] ?? ''])));
}

describe('invoiceCsv', () => {
  it('writes the header, one row per line, then subtotal and amount due, each ended by CRLF', () => {
    const csv = invoiceCsv(invoice());
    expect(csv.split('\r\n')[0]).toBe('invoice,tenant,period,meter,description,gpu_model,resolution,codec,quantity,measured_quantity,unit,unit_price,amount,currency,charges');
    expect(csv.endsWith('\r\n')).toBe(true);
    expect(csv.replaceAll('\r\n', '')).not.toMatch(/[\r\n]/);
    const rows = parseCsv(csv);
    expect(rows).toHaveLength(1 + 3 + 2);
    expect(rows.every((r) => r.length === INVOICE_CSV_HEADER.length)).toBe(true);
  });

  it('quotes a field with a comma and a quote, doubling the quote', () => {
    expect(invoiceCsv(invoice())).toContain(',"Output minutes, HD ""h264""",');
    expect(records(invoice())[1]!.description).toBe('Output minutes, HD "h264"');
  });

  it('quotes a field with a line break, which survives the round trip', () => {
    const inv = invoice();
    inv.lines[0] = { ...inv.lines[0]!, description: 'two\r\nlines\nhere' };
    expect(records(inv)[0]!.description).toBe('two\r\nlines\nhere');
  });

  it('puts a quote before text a spreadsheet would run as a formula', () => {
    const line = records(invoice())[2]!;
    expect(line.description).toBe("'=cmd|' /C calc'!A0");
    expect(line.gpu_model).toBe("'@SUM(A1:A9)");
    for (const start of ['+', '-', '\t', '\r']) {
      const inv = invoice();
      inv.lines[0] = { ...inv.lines[0]!, description: `${start}1+1` };
      expect(records(inv)[0]!.description).toBe(`'${start}1+1`);
    }
  });

  it('leaves numbers and decimal amounts alone, negative ones included', () => {
    const inv = invoice();
    inv.lines[0] = { ...inv.lines[0]!, amount: '-1.000000', quantity: -2 };
    const line = records(inv)[0]!;
    expect([line.amount, line.quantity, line.measured_quantity, line.unit_price]).toEqual(['-1.000000', '-2', '3598.2', '0.001525000']);
  });

  it('ends with the subtotal and the amount due, as the invoice wrote them', () => {
    const rows = records(invoice());
    expect(rows.at(-2)).toMatchObject({ invoice: 'inv_ten01_2025-06', tenant: 'ten_01', description: 'subtotal', amount: '6.870864', currency: 'EUR', charges: '16', quantity: '' });
    expect(rows.at(-1)).toMatchObject({ description: 'amount due', amount: '6.87', currency: 'EUR' });
  });

  it('has line amounts that add up to the subtotal, to the micro', () => {
    const inv = invoice();
    const rows = records(inv);
    const lines = rows.slice(0, -2);
    expect(lines.map((r) => r.meter)).toEqual(['gpu_seconds', 'output_minutes', 'frames_rendered']);
    const sum = lines.reduce((s, r) => s + micros(r.amount!), 0n);
    expect(sum).toBe(BigInt(inv.subtotal_micros));
    expect(micros(rows.at(-2)!.amount!)).toBe(sum);
  });

  it('writes an invoice with no lines as header, subtotal and amount due', () => {
    const rows = records(invoice({ lines: [], subtotal: '0.000000', subtotal_micros: 0, amount_due: '0.00', rounding: '0.000000' }));
    expect(rows.map((r) => [r.description, r.amount, r.charges])).toEqual([['subtotal', '0.000000', '0'], ['amount due', '0.00', '']]);
  });
});

describe('invoiceHtml', () => {
  const page = invoiceHtml(invoice());

  it('is a complete HTML5 page with charset, viewport and title', () => {
    expect(page.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
    expect(page).toContain('<meta charset="utf-8">');
    expect(page).toMatch(/<meta name="viewport" content="[^"]+">/);
    expect(page).toContain('<title>Invoice 2025-06 — &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;</title>');
    expect(page.trimEnd().endsWith('</html>')).toBe(true);
  });

  it('escapes the hostile tenant name and runs no script at all', () => {
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot; <span class="id">ten_01</span>');
    expect(page).not.toMatch(/<script/i);
    expect(page).not.toContain(HOSTILE_NAME);
  });

  it('escapes every string the invoice carries', () => {
    const evil = `<x a='1' b="2">&`;
    const inv = invoice({ id: evil, period: evil, currency: evil, tenant: { id: evil, name: evil }, period_start: evil, generated_at: evil });
    inv.lines = inv.lines.map((l) => ({ ...l, meter: evil, description: evil, unit: evil, unit_price: evil, amount: evil }));
    const out = invoiceHtml({ ...inv, subtotal: evil, rounding: evil, amount_due: evil, ledger: { ...inv.ledger, amount: evil } });
    expect(out).not.toContain('<x');
    expect(out).toContain('&lt;x a=&#39;1&#39; b=&quot;2&quot;&gt;&amp;');
  });

  it('loads nothing from outside: no URLs, no links, no sources', () => {
    expect(page).not.toMatch(/https?:/i);
    expect(page).not.toMatch(/\b(src|href|srcset|action)\s*=/i);
    expect(page).not.toMatch(/url\(|@import/i);
    expect(page).toContain(`default-src 'none'`);
  });

  it('shows the tenant, invoice, period, status and each line', () => {
    expect(page).toContain('<h1>Invoice 2025-06</h1>');
    expect(page).toContain('inv_ten01_2025-06');
    expect(page).toContain('from 2025-06-01 00:00 UTC until 2025-07-01 00:00 UTC');
    expect(page).toContain('open: the month is not over, lines may still grow');
    for (const line of invoice().lines) {
      expect(page).toContain(`<td class="num">${line.amount}</td>`);
      expect(page).toContain(`<td class="num">${line.unit_price}</td>`);
    }
    expect(page).toContain('<td class="num">3600 <span class="unit">GPU-second</span><div class="detail">measured 3598.2</div></td>');
    expect(page).toContain('Output minutes, HD &quot;h264&quot;');
    expect(page).toContain('frames_rendered · 1 charge</div>');
  });

  it('shows subtotal, rounding, amount due and the ledger footnote', () => {
    expect(page).toContain('<th colspan="3">Subtotal</th><td class="num">6.870864</td>');
    expect(page).toContain('<td class="num">-0.000864</td>');
    expect(page).toContain('<th colspan="3">Amount due</th><td class="num">6.87 EUR</td>');
    expect(page).toContain('The lines add up to the ledger: 16 charges, 6.870864 EUR.');
  });

  it('says nothing of growing lines once the month is closed', () => {
    const closed = invoiceHtml(invoice({ status: 'closed' }));
    expect(closed).toContain('<dt>Status</dt><dd>closed</dd>');
    expect(closed).not.toContain('lines may still grow');
  });

  it('prints on A4 with right-aligned tabular numbers', () => {
    expect(page).toContain('@page { size: A4;');
    expect(page).toContain('@media print');
    expect(page).toMatch(/\.num \{[^}]*text-align: right;[^}]*font-variant-numeric: tabular-nums;/);
  });

  it('says so when the month has no usage', () => {
    const empty = invoiceHtml(invoice({ lines: [], ledger: { charges: 0, amount: '0.000000', amount_micros: 0 } }));
    expect(empty).toContain('No usage in this period.');
    expect(empty).toContain('The lines add up to the ledger: 0 charges, 0.000000 EUR.');
  });
});
