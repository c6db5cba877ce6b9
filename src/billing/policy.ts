/**
 * Who pays for an attempt, decided once when it ends or is lost. By default the tenant pays for
 * work that succeeded, for canceled work (the time it used) and for failures its input caused;
 * the platform carries its own failures (a lost worker, an internal error) as platform cost.
 */
import type { Config } from '../config/env.js';
import type { JobErrorCode } from '../jobs/job-error.js';
import type { BilledTo } from '../db/billing-schema.js';

export interface BillingPolicy {
  billPlatformFailures: boolean;
  billCanceled: boolean;
  billFailedInput: boolean;
}

export const policyFrom = (c: Config): BillingPolicy => ({
  billPlatformFailures: c.MALAN_BILL_PLATFORM_FAILURES,
  billCanceled: c.MALAN_BILL_CANCELED,
  billFailedInput: c.MALAN_BILL_FAILED_INPUT,
});

/** Whose fault a failure is, for every code (exhaustive: a new code must be placed here). */
export function failureOwner(code: JobErrorCode): 'input' | 'platform' | 'canceled' {
  switch (code) {
    case 'invalid_input':
    case 'unsupported_input':
    case 'source_not_found':
    case 'media_unreadable':
    case 'no_video_stream':
    case 'timeout':
      return 'input';
    case 'canceled':
      return 'canceled';
    case 'output_verification_failed':
    case 'worker_lost':
    case 'internal':
      return 'platform';
    default: {
      const never: never = code;
      throw new Error(`unplaced error code ${String(never)}`);
    }
  }
}

export interface AttemptEnding {
  outcome: 'succeeded' | 'failed' | 'canceled' | 'lost';
  errorCode: JobErrorCode | null;
  /** Another attempt had already succeeded, or the job had moved on to a later attempt. */
  superseded: 'already-succeeded' | 'later-attempt' | null;
}

export interface Payer {
  billedTo: BilledTo;
  reason: string;
}

export function payerOf(a: AttemptEnding, policy: BillingPolicy): Payer {
  if (a.superseded === 'already-succeeded') return { billedTo: 'platform', reason: 'a second run of a job that had already succeeded' };
  if (a.superseded === 'later-attempt') return { billedTo: 'platform', reason: 'a run the farm had given up on and handed to another worker' };
  if (a.outcome === 'lost') return platformOr(policy.billPlatformFailures, 'the worker was lost during the run');
  if (a.outcome === 'succeeded') return { billedTo: 'tenant', reason: 'succeeded' };
  if (a.outcome === 'canceled') return policy.billCanceled ? { billedTo: 'tenant', reason: 'canceled: the time used is billed' } : { billedTo: 'platform', reason: 'canceled: not billed by policy' };
  const owner = a.errorCode ? failureOwner(a.errorCode) : 'platform';
  if (owner === 'input') return policy.billFailedInput ? { billedTo: 'tenant', reason: `failed because of the input (${a.errorCode})` } : { billedTo: 'platform', reason: `failed because of the input (${a.errorCode}); not billed by policy` };
  if (owner === 'canceled') return policy.billCanceled ? { billedTo: 'tenant', reason: 'canceled: the time used is billed' } : { billedTo: 'platform', reason: 'canceled: not billed by policy' };
  return platformOr(policy.billPlatformFailures, `failed for the platform's reasons (${a.errorCode ?? 'unknown'})`);
}

function platformOr(billTenant: boolean, why: string): Payer {
  return billTenant ? { billedTo: 'tenant', reason: `${why}; billed by policy` } : { billedTo: 'platform', reason: `${why}: platform cost, not billed` };
}
