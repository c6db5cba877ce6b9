/** The live phase as a table: the curve (ladder × channels → misses, latency, RTF) and the capacity. */
import type { LiveResults } from './live.js';

const pct = (r: number) => `${Math.round(r * 100)}%`;
const s = (v: number | null) => (v === null ? '–' : v.toFixed(2));

export function renderLive(live: LiveResults): string[] {
  const set = live.settings;
  const lines = [
    `Live: ${set.source}; ${set.segmentSeconds} s segments due ${set.deadlineFactor}× their duration after arrival; N channels staggered over one segment; one worker, MALAN_LIVE_CONCURRENCY ${set.liveConcurrency}. Farm ${set.streamSeconds} s a channel, bare ${set.bareSeconds} s. Load ${live.loadAverageAtStart.join(' ')} at start, ${live.loadAverageAtEnd.join(' ')} at end.`,
    '',
    '| ladder | channels | farm missed | bare missed | farm latency p50 / p95 s | bare p50 / p95 s | farm added p50 / p95 s | RTF farm p50 (rung: farm/bare) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const p of live.points) {
    const rtf = Object.entries(p.farm.rtf)
      .map(([rung, r]) => `${rung} ${r.p50.toFixed(2)} (${p.ratios.rtf[rung]?.toFixed(2) ?? '–'})`)
      .join(', ');
    lines.push(
      `| ${p.ladder} | ${p.channels} | ${p.farm.segments - p.farm.published}/${p.farm.segments} ${pct(p.farm.missRate)} | ${p.bare.misses}/${p.bare.segments} ${pct(p.bare.missRate)} | ${s(p.farm.latency.p50)} / ${s(p.farm.latency.p95)} | ${s(p.bare.latency.p50)} / ${s(p.bare.latency.p95)} | ${s(p.ratios.addedLatency.p50)} / ${s(p.ratios.addedLatency.p95)} | ${rtf || '–'} |`,
    );
  }
  lines.push('', '| ladder | channels | arrived → worker start p50 / p95 s | segment PUT answered p50 / p95 ms | playlist PUT answered p50 / p95 ms | misses: gaps by reason, never placed |', '| --- | --- | --- | --- | --- | --- |');
  for (const p of live.points) {
    const f = p.farm;
    const why = [...Object.entries(f.gapsByReason).map(([r, n]) => `${r} ${n}`), ...(f.unplaced ? [`never placed ${f.unplaced}`] : []), ...(f.pendingAtEnd ? [`still pending ${f.pendingAtEnd}`] : [])].join(', ');
    lines.push(`| ${p.ladder} | ${p.channels} | ${s(f.queueWait.p50)} / ${s(f.queueWait.p95)} | ${f.ingestMs.segment.p50} / ${f.ingestMs.segment.p95} | ${f.ingestMs.playlist.p50} / ${f.ingestMs.playlist.p95} | ${why || '–'} |`);
  }
  lines.push('');
  for (const c of live.capacity) {
    lines.push(`sustained (no miss), ${c.ladder} (${c.rungs} rung${c.rungs > 1 ? 's' : ''}): ${c.farmChannels} channel${c.farmChannels === 1 ? '' : 's'} through the farm${c.reachedMax ? ' (the most tried)' : ''}, ${c.bareChannels} bare`);
  }
  const problems = live.points.flatMap((p) => [...p.farm.refused.map((r) => `${p.ladder} × ${p.channels}: refused ${r}`), ...p.farm.waitingForWorker.map((w) => `${p.ladder} × ${p.channels}: ${w}`)]);
  const lateMax = Math.max(0, ...live.points.map((p) => p.farm.pushLateMs.max));
  lines.push(`pusher: segments PUT at most ${lateMax.toFixed(1)} ms after their due time${problems.length ? '' : '; the farm took every request'}`);
  for (const p of problems.slice(0, 10)) lines.push(`  ${p}`);
  return lines;
}
