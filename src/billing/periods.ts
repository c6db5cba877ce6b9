/** Billing periods: calendar months in UTC, written `YYYY-MM`. */
import { ApiError } from '../api/api-error.js';

export type Period = string;

export function periodOf(at: Date): Period {
  return at.toISOString().slice(0, 7);
}

export function periodStart(period: Period): Date {
  return new Date(`${period}-01T00:00:00.000Z`);
}

/** The first instant after the period: when its monthly limits reset. */
export function periodEnd(period: Period): Date {
  const start = periodStart(period);
  return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
}

/** A period a client asked for: `YYYY-MM`, a real month, not after the current one. */
export function parsePeriod(raw: string, now = new Date()): Period {
  const m = /^(\d{4})-(\d{2})$/.exec(raw);
  if (!m) throw new ApiError('invalid_request', `period must be a month written YYYY-MM (e.g. ${periodOf(now)}), not ${JSON.stringify(raw.slice(0, 40))}`);
  const month = Number(m[2]);
  if (month < 1 || month > 12) throw new ApiError('invalid_request', `period ${raw}: the month must be 01 to 12`);
  if (Number(m[1]) < 2000) throw new ApiError('invalid_request', `period ${raw}: the farm keeps no usage before 2000`);
  if (raw > periodOf(now)) throw new ApiError('invalid_request', `period ${raw} has not begun: invoices exist up to the current month (${periodOf(now)})`);
  return raw;
}

/** A day (`YYYY-MM-DD`) as a client wrote it, for usage ranges. */
export function parseDay(raw: string, name: string): Date {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(raw)) throw new ApiError('invalid_request', `${name} must be a day written YYYY-MM-DD`);
  const d = new Date(`${raw}T00:00:00.000Z`);
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== raw) throw new ApiError('invalid_request', `${name} ${raw} is not a real day`);
  return d;
}
