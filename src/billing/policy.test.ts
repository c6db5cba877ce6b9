import { describe, expect, it } from 'vitest';
import { JOB_ERROR_CODES } from '../jobs/job-error.js';
import { failureOwner, payerOf, type BillingPolicy } from './policy.js';

const defaults: BillingPolicy = { billPlatformFailures: false, billCanceled: true, billFailedInput: true };
const end = (outcome: 'succeeded' | 'failed' | 'canceled' | 'lost', errorCode: (typeof JOB_ERROR_CODES)[number] | null = null, superseded: 'already-succeeded' | 'later-attempt' | null = null) => ({ outcome, errorCode, superseded });

describe('payerOf', () => {
  it('bills the tenant for success, cancels and input failures; the platform for its own failures', () => {
    expect(payerOf(end('succeeded'), defaults).billedTo).toBe('tenant');
    expect(payerOf(end('canceled', 'canceled'), defaults).billedTo).toBe('tenant');
    expect(payerOf(end('failed', 'media_unreadable'), defaults).billedTo).toBe('tenant');
    expect(payerOf(end('failed', 'timeout'), defaults).billedTo).toBe('tenant');
    expect(payerOf(end('failed', 'internal'), defaults)).toMatchObject({ billedTo: 'platform' });
    expect(payerOf(end('failed', 'output_verification_failed'), defaults).billedTo).toBe('platform');
    expect(payerOf(end('lost', 'worker_lost'), defaults).reason).toContain('platform cost');
  });

  it('never bills a second run twice', () => {
    expect(payerOf(end('succeeded', null, 'already-succeeded'), { ...defaults, billPlatformFailures: true }).billedTo).toBe('platform');
    expect(payerOf(end('succeeded', null, 'later-attempt'), defaults).billedTo).toBe('platform');
  });

  it('follows the configured policy', () => {
    const strict: BillingPolicy = { billPlatformFailures: true, billCanceled: false, billFailedInput: false };
    expect(payerOf(end('lost', 'worker_lost'), strict).billedTo).toBe('tenant');
    expect(payerOf(end('canceled', 'canceled'), strict).billedTo).toBe('platform');
    expect(payerOf(end('failed', 'source_not_found'), strict).billedTo).toBe('platform');
  });

  it('places every error code', () => {
    for (const code of JOB_ERROR_CODES) expect(['input', 'platform', 'canceled']).toContain(failureOwner(code));
  });
});
