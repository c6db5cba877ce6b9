import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/api-error.js';
import { amountMicros, formatMicros, formatNanos, parseAmount, parseUnitPrice, roundToCents } from './money.js';
import { parsePeriod } from './periods.js';

describe('money', () => {
  it('parses unit prices exactly, as strings or numbers', () => {
    expect(parseUnitPrice('0.001525')).toBe(1_525_000);
    expect(parseUnitPrice('0.000000001')).toBe(1);
    expect(parseUnitPrice(0.0001)).toBe(100_000);
    expect(parseUnitPrice('12')).toBe(12_000_000_000);
  });

  it.each([['-0.1'], [-1], ['abc'], ['0.0000000001'], ['1e-3'], ['20000'], [20000], [Number.NaN], [null], ['']])('refuses the price %s', (raw) => {
    expect(() => parseUnitPrice(raw)).toThrow(ApiError);
  });

  it('rounds amounts half up to micros and the due amount to cents', () => {
    expect(amountMicros(3.002, 100_000)).toBe(300);
    expect(amountMicros(1, 1_500)).toBe(2);
    expect(roundToCents(12_344_999)).toBe(12_340_000);
    expect(roundToCents(12_345_000)).toBe(12_350_000);
    expect(formatMicros(1_234_567)).toBe('1.234567');
    expect(formatMicros(-4_000)).toBe('-0.004000');
    expect(formatNanos(1_525_000)).toBe('0.001525000');
    expect(parseAmount('250.5', 'x')).toBe(250_500_000);
    expect(() => parseAmount('-1', 'x')).toThrow(/non-negative/);
  });
});

describe('periods', () => {
  const now = new Date('2026-11-25T10:00:00Z');
  it('takes real months up to the current one', () => {
    expect(parsePeriod('2026-11', now)).toBe('2026-11');
    expect(parsePeriod('2025-01', now)).toBe('2025-01');
  });
  it.each([['2026-13'], ['2026-00'], ['../'], ['2026-1'], ['202611'], ['2026-12'], ['9999-01'], ['1999-12'], ['2026-11/../x']])('refuses %s', (raw) => {
    expect(() => parsePeriod(raw, now)).toThrow(ApiError);
  });
});
