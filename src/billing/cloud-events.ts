/**
 * A charge as a CloudEvent (spec 1.0, structured JSON): the shape OpenMeter ingests. `type` is the
 * meter, `subject` the tenant, `id` the charge's deterministic id, so a receiver that keeps
 * (source, id) — as OpenMeter does — counts a redelivered event once.
 */
import type { ChargeRow } from '../db/billing-schema.js';
import { formatMicros, formatNanos } from './money.js';

export interface CloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  data: Record<string, unknown>;
}

export function chargeEvent(c: ChargeRow, source: string): CloudEvent {
  return {
    specversion: '1.0',
    id: c.id,
    source,
    type: `malan.${c.meter}`,
    subject: c.tenantId,
    time: c.occurredAt.toISOString(),
    datacontenttype: 'application/json',
    data: {
      meter: c.meter,
      value: c.billedQuantity,
      measured: c.quantity,
      unit: c.unit,
      ...(c.gpuModel !== null && { gpu_model: c.gpuModel }),
      ...(c.resolution !== null && { resolution: c.resolution }),
      ...(c.codec !== null && { codec: c.codec }),
      ...(c.jobId !== null && { job_id: c.jobId, kind: c.kind, attempt: c.attempt }),
      billed_to: c.billedTo,
      reason: c.reason,
      price_id: c.priceId,
      unit_price: formatNanos(c.unitPriceNanos),
      amount: formatMicros(c.amountMicros),
      currency: c.currency,
      period: c.period,
    },
  };
}
