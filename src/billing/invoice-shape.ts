/** The invoice a tenant reads (JSON), and that the CSV and the printable page are made from. */

export interface InvoiceLine {
  /** The meter (src/billing/meters.ts), e.g. `gpu_seconds`. */
  meter: string;
  /** What the line is, in words: "GPU time — NVIDIA H100 80GB HBM3". */
  description: string;
  gpu_model: string | null;
  resolution: string | null;
  codec: string | null;
  /** Billed quantity (after each attempt's rounding and minimum), and what was measured. */
  quantity: number;
  measured_quantity: number;
  unit: string;
  /** Per unit, 9 decimals, e.g. "0.001525000". */
  unit_price: string;
  price_id: string | null;
  /** 6 decimals; the lines add up to the subtotal exactly. */
  amount: string;
  amount_micros: number;
  /** How many ledger charges the line sums. */
  charges: number;
}

export interface Invoice {
  object: 'invoice';
  id: string;
  tenant: { id: string; name: string };
  /** `YYYY-MM`, a calendar month in UTC. */
  period: string;
  period_start: string;
  period_end: string;
  /** `open` while the month runs (lines may still grow); `closed` after it. */
  status: 'open' | 'closed';
  currency: string;
  lines: InvoiceLine[];
  subtotal: string;
  subtotal_micros: number;
  /** The subtotal rounded to the cent, half up: what is due. */
  amount_due: string;
  /** amount_due − subtotal, shown so the rounding is not hidden. */
  rounding: string;
  /** The ledger's own sum for this tenant and month: equal to the subtotal. */
  ledger: { charges: number; amount: string; amount_micros: number };
  generated_at: string;
}
