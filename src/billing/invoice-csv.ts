/**
 * An invoice as CSV (RFC 4180), for a tenant's accounting: one row per line, then the subtotal
 * and the amount due. Pure: the invoice in, the text out; the route decides headers and encoding.
 */
import type { Invoice, InvoiceLine } from './invoice-shape.js';

export const INVOICE_CSV_HEADER = [
  'invoice', 'tenant', 'period', 'meter', 'description', 'gpu_model', 'resolution', 'codec',
  'quantity', 'measured_quantity', 'unit', 'unit_price', 'amount', 'currency', 'charges',
] as const;

type Column = (typeof INVOICE_CSV_HEADER)[number];
/** A row by column name, so that a row cannot put a value under the wrong heading. */
type Row = Record<Column, string>;

// RFC 4180 ends every record with CRLF; spreadsheets and `csv` parsers accept a final one.
const CRLF = '\r\n';

export function invoiceCsv(inv: Invoice): string {
  // The tenant's id, not its name: an id joins with other exports and never changes; the name is on the page.
  const head = { invoice: text(inv.id), tenant: text(inv.tenant.id), period: text(inv.period), currency: text(inv.currency) };
  const none = { meter: '', gpu_model: '', resolution: '', codec: '', quantity: '', measured_quantity: '', unit: '', unit_price: '' };
  const rows: Row[] = inv.lines.map((line) => lineRow(head, line));
  // The subtotal row sums the rows above it, charges included (the page compares them with the ledger).
  const charges = inv.lines.reduce((n, line) => n + line.charges, 0);
  rows.push({ ...head, ...none, description: text('subtotal'), amount: decimal(inv.subtotal), charges: count(charges) });
  rows.push({ ...head, ...none, description: text('amount due'), amount: decimal(inv.amount_due), charges: '' });
  const records = [INVOICE_CSV_HEADER.join(','), ...rows.map((row) => INVOICE_CSV_HEADER.map((c) => row[c]).join(','))];
  return records.join(CRLF) + CRLF;
}

function lineRow(head: Pick<Row, 'invoice' | 'tenant' | 'period' | 'currency'>, line: InvoiceLine): Row {
  return {
    ...head,
    meter: text(line.meter),
    description: text(line.description),
    gpu_model: text(line.gpu_model),
    resolution: text(line.resolution),
    codec: text(line.codec),
    quantity: count(line.quantity),
    measured_quantity: count(line.measured_quantity),
    unit: text(line.unit),
    unit_price: decimal(line.unit_price),
    amount: decimal(line.amount),
    charges: count(line.charges),
  };
}

// Characters that make Excel, LibreOffice or Google Sheets read a cell as a formula (OWASP
// "CSV injection"). Tenant names, descriptions and GPU model names come from users and workers.
const FORMULA_START = /^[=+\-@\t\r]/;

/** A text cell: guarded against formulas, then quoted where RFC 4180 needs it. */
function text(value: string | null): string {
  if (value === null) return '';
  return quote(FORMULA_START.test(value) ? `'${value}` : value);
}

/** A number of the invoice (quantity, charges): plain, as JSON would write it. */
function count(value: number): string {
  // NaN or Infinity would read as text in a spreadsheet; an empty cell says "no value" honestly.
  return Number.isFinite(value) ? String(value) : '';
}

/**
 * A money string of the invoice, written as it is so no float ever touches it. A well-formed
 * decimal ("-0.004000" included) is a number, not a formula; anything else is treated as text.
 */
function decimal(value: string): string {
  return /^-?\d+(\.\d+)?$/.test(value) ? value : text(value);
}

function quote(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** Any cell of a CSV export (usage too): numbers plain, decimal strings as numbers, other text guarded. */
export function csvCell(value: unknown): string {
  if (typeof value === 'number') return count(value);
  if (value === null || value === undefined) return '';
  return decimal(String(value));
}
