/** Which price book entry prices a quantity: the most specific match in force at the time of use. */
import type { PriceRow } from '../db/billing-schema.js';
import type { MeterQuantity } from './meters.js';

type PriceLike = Pick<PriceRow, 'id' | 'meter' | 'gpuModel' | 'resolution' | 'codec' | 'effectiveFrom' | 'currency'>;

/**
 * Among the entries of the quantity's meter and currency in force at `at` whose every dimension is
 * either unset (any) or equal, the most specific wins (an H100 price over the any-GPU one), then the
 * latest: a new any-GPU price does not change what an H100 costs.
 */
export function choosePrice<P extends PriceLike>(prices: readonly P[], q: Pick<MeterQuantity, 'gpuModel' | 'resolution' | 'codec'> & { meter: string }, at: Date, currency: string): P | null {
  let best: P | null = null;
  let bestScore = -1;
  for (const p of prices) {
    if (p.meter !== q.meter || p.currency !== currency || p.effectiveFrom.getTime() > at.getTime()) continue;
    if (!fits(p.gpuModel, q.gpuModel) || !fits(p.resolution, q.resolution) || !fits(p.codec, q.codec)) continue;
    const score = [p.gpuModel, p.resolution, p.codec].filter((d) => d !== null).length;
    if (score > bestScore || (score === bestScore && best && p.effectiveFrom.getTime() > best.effectiveFrom.getTime())) {
      best = p;
      bestScore = score;
    }
  }
  return best;
}

const fits = (wanted: string | null, actual: string | null) => wanted === null || wanted === actual;
