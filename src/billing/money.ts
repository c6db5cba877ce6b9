/**
 * Money as integers: unit prices in billionths of the currency (nanos), charges in millionths
 * (micros), so that lines add up exactly and an invoice's total equals the sum of its ledger.
 */
import { ApiError } from '../api/api-error.js';

/** Most a price book entry may charge for one unit: more is a typo, not a price. */
export const MAX_UNIT_PRICE = 10_000;

/** `"0.001525"` → 1525000 nanos; refuses negatives, more than 9 decimals and absurd amounts. */
export function parseUnitPrice(raw: unknown, field = 'unit_price'): number {
  const text = typeof raw === 'number' ? numberText(raw) : raw;
  if (typeof text !== 'string' || !/^\d{1,6}(\.\d{1,9})?$/.test(text)) {
    const sign = typeof raw === 'number' && raw < 0 ? ' (a price cannot be negative)' : '';
    throw new ApiError('invalid_request', `${field} must be a non-negative decimal with at most 9 decimals, e.g. "0.001525"${sign}`);
  }
  const [whole, frac = ''] = text.split('.');
  const nanos = Number(whole) * 1e9 + Number(frac.padEnd(9, '0'));
  if (nanos > MAX_UNIT_PRICE * 1e9) throw new ApiError('invalid_request', `${field} ${text} is more than ${MAX_UNIT_PRICE} a unit; prices are per unit of the meter (e.g. per GPU-second)`);
  return nanos;
}

/** A whole amount of currency (a spending limit) → micros. */
export function parseAmount(raw: unknown, field: string): number {
  const text = typeof raw === 'number' ? numberText(raw) : raw;
  if (typeof text !== 'string' || !/^\d{1,12}(\.\d{1,6})?$/.test(text)) throw new ApiError('invalid_request', `${field} must be a non-negative amount with at most 6 decimals, e.g. "250.00"`);
  const [whole, frac = ''] = text.split('.');
  return Number(whole) * 1e6 + Number(frac.padEnd(6, '0'));
}

/** quantity × unit price, in micros, rounded half up. */
export function amountMicros(quantity: number, unitPriceNanos: number): number {
  return Math.round((quantity * unitPriceNanos) / 1000 + 1e-9);
}

export function formatNanos(nanos: number): string {
  return fixed(nanos, 9);
}

export function formatMicros(micros: number): string {
  return fixed(micros, 6);
}

/** Micros to cents, half up: what is finally due. */
export function roundToCents(micros: number): number {
  return Math.round(micros / 10_000) * 10_000;
}

function fixed(units: number, decimals: number): string {
  const sign = units < 0 ? '-' : '';
  const s = String(Math.abs(Math.round(units))).padStart(decimals + 1, '0');
  return `${sign}${s.slice(0, -decimals)}.${s.slice(-decimals)}`;
}

function numberText(n: number): string | null {
  if (!Number.isFinite(n) || n < 0) return null;
  return n.toFixed(9).replace(/\.?0+$/, '');
}
