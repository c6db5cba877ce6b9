import { describe, expect, it } from 'vitest';
import type { PriceRow } from '../db/billing-schema.js';
import { choosePrice } from './price-choice.js';
import { billable, rateAttempt, type RatableEvent } from './rating.js';
import { quantitiesOf, resolutionClass } from './meters.js';

const price = (over: Partial<PriceRow>): PriceRow => ({
  id: 'p', meter: 'gpu_seconds', gpuModel: null, resolution: null, codec: null, unitPriceNanos: 1_000_000, currency: 'USD',
  rounding: 'none', increment: 0, minimum: 0, effectiveFrom: new Date('1970-01-01T00:00:00Z'), note: '', createdBy: 'op', createdAt: new Date(), ...over,
});
const event = (over: Partial<RatableEvent>): RatableEvent => ({ id: 'e', occurredAt: new Date('2026-11-10T12:00:00Z'), cpuSeconds: 0, gpuSeconds: 0, gpuModel: 'cpu', meters: {}, ...over });
const payer = { billedTo: 'tenant' as const, reason: 'succeeded' };
const base = { tenantId: 'ten_a', jobId: 'job_a', kind: 'transcode', attempt: 1, payer, currency: 'USD' };

describe('meters', () => {
  it('turns a usage event into quantities, renditions by resolution class and codec', () => {
    const q = quantitiesOf({ cpuSeconds: 3, gpuSeconds: 2, gpuModel: 'NVIDIA L4', meters: { renditions: [{ height: 720, codec: 'h264', seconds: 60 }, { height: 1080, codec: 'h264', seconds: 30 }, { height: 2160, codec: 'hevc', seconds: 60 }], predictions: 1 } });
    expect(q).toEqual([
      { meter: 'gpu_seconds', quantity: 2, gpuModel: 'NVIDIA L4', resolution: null, codec: null },
      { meter: 'cpu_seconds', quantity: 3, gpuModel: null, resolution: null, codec: null },
      { meter: 'output_minutes', quantity: 1.5, gpuModel: null, resolution: 'HD', codec: 'h264' },
      { meter: 'output_minutes', quantity: 1, gpuModel: null, resolution: 'UHD', codec: 'hevc' },
      { meter: 'predictions', quantity: 1, gpuModel: null, resolution: null, codec: null },
    ]);
    expect([479, 720, 1080, 1440, 2160, 4320].map(resolutionClass)).toEqual(['SD', 'HD', 'HD', 'UHD', 'UHD', '8K']);
  });
});

describe('choosePrice', () => {
  const generic = price({ id: 'generic' });
  const h100 = price({ id: 'h100', gpuModel: 'NVIDIA H100 80GB HBM3', unitPriceNanos: 1_525_000 });
  const genericLater = price({ id: 'generic-dec', effectiveFrom: new Date('2026-12-01T00:00:00Z'), unitPriceNanos: 2_000_000 });
  const q = (gpuModel: string) => ({ meter: 'gpu_seconds', gpuModel, resolution: null, codec: null });
  it('takes the most specific entry, then the latest in force', () => {
    const book = [generic, h100, genericLater];
    expect(choosePrice(book, q('NVIDIA H100 80GB HBM3'), new Date('2026-12-05T00:00:00Z'), 'USD')?.id).toBe('h100');
    expect(choosePrice(book, q('NVIDIA L4'), new Date('2026-11-30T23:59:59Z'), 'USD')?.id).toBe('generic');
    expect(choosePrice(book, q('NVIDIA L4'), new Date('2026-12-01T00:00:00Z'), 'USD')?.id).toBe('generic-dec');
    expect(choosePrice(book, q('NVIDIA L4'), new Date('2026-12-01T00:00:00Z'), 'EUR')).toBeNull();
  });
});

describe('billable', () => {
  it('rounds to the increment and applies the minimum only to usage', () => {
    expect(billable(2.0001, { rounding: 'up', increment: 1, minimum: 0 })).toBe(3);
    expect(billable(3.0000000001, { rounding: 'up', increment: 0.001, minimum: 0 })).toBe(3);
    expect(billable(2.4, { rounding: 'nearest', increment: 1, minimum: 0 })).toBe(2);
    expect(billable(0.2, { rounding: 'none', increment: 0, minimum: 1 })).toBe(1);
    expect(billable(0, { rounding: 'up', increment: 1, minimum: 1 })).toBe(0);
  });
});

describe('rateAttempt', () => {
  const cpu = price({ id: 'cpu', meter: 'cpu_seconds', unitPriceNanos: 100_000, rounding: 'up', increment: 0.001 });
  const cpuDec = price({ id: 'cpu-dec', meter: 'cpu_seconds', unitPriceNanos: 200_000, rounding: 'up', increment: 0.001, effectiveFrom: new Date('2026-11-20T00:00:00Z') });

  it('sums an attempt\'s increments into one line per meter, rounded once', () => {
    const events = [event({ id: '1', cpuSeconds: 1.0004 }), event({ id: '2', cpuSeconds: 1.0004 }), event({ id: '3', cpuSeconds: 1.0004 })];
    const [line, ...rest] = rateAttempt({ ...base, events, prices: [cpu] });
    expect(rest).toEqual([]);
    expect(line).toMatchObject({ meter: 'cpu_seconds', quantity: 3.0012, billedQuantity: 3.002, unitPriceNanos: 100_000, amountMicros: 300, billedTo: 'tenant', period: '2026-11', priceId: 'cpu' });
  });

  it('splits at a price change and at a month end, each side with its own price and period', () => {
    const events = [
      event({ id: '1', cpuSeconds: 10, occurredAt: new Date('2026-11-19T23:59:59Z') }),
      event({ id: '2', cpuSeconds: 10, occurredAt: new Date('2026-11-20T00:00:01Z') }),
      event({ id: '3', cpuSeconds: 10, occurredAt: new Date('2026-12-01T00:00:01Z') }),
    ];
    const lines = rateAttempt({ ...base, events, prices: [cpu, cpuDec] });
    expect(lines.map((l) => [l.priceId, l.period, l.amountMicros])).toEqual([
      ['cpu', '2026-11', 1000],
      ['cpu-dec', '2026-11', 2000],
      ['cpu-dec', '2026-12', 2000],
    ]);
  });

  it('gives the same ids every time, and late events ids of their own', () => {
    const events = [event({ id: 'job_a:1:1', cpuSeconds: 1 })];
    const a = rateAttempt({ ...base, events, prices: [cpu] });
    expect(rateAttempt({ ...base, events, prices: [cpu] })).toEqual(a);
    const late = rateAttempt({ ...base, events, prices: [cpu], lateEventId: 'job_a:1:7' });
    expect(late[0]!.id).toBe(`${a[0]!.id}:late:job_a:1:7`);
  });

  it('records unpriced usage at zero and says so', () => {
    const [line] = rateAttempt({ ...base, events: [event({ gpuSeconds: 5, gpuModel: 'NVIDIA L4' })], prices: [cpu] });
    expect(line).toMatchObject({ meter: 'gpu_seconds', priceId: null, amountMicros: 0, billedQuantity: 5 });
    expect(line!.reason).toContain('no price');
  });
});
