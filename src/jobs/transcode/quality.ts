/**
 * A quality report per rendition (what MediaConvert and encoding.com call a QC report): SSIM and
 * PSNR of each rendition against the source, measured the conventional way for a downscaled
 * rendition: against the source scaled to the rendition's size. One ffmpeg run per rendition.
 *
 * Frame pairing (checked on Debian's ffmpeg 5.1): ssim and psnr pair frames with framesync, which
 * is driven by the first input and takes the LATEST frame of the second at or before each of its
 * timestamps (no "nearest" mode before ffmpeg 6.1). So both sides are first put on one grid:
 * - `setpts=PTS-STARTPTS`: both start at 0 (a source may start at 1.4 s, its rendition at 0).
 * - `fps=<the rendition's rate>` on BOTH sides. On the source it keeps, for each slot, the frame
 *   nearest to it, as an `fps` filter making the rung did for a VFR or higher-rate source; on a
 *   CFR source at that rate it drops nothing. On the rendition (already CFR) it only snaps
 *   timestamps to the exact grid: MP4 stores them in its own timescale, and one rounded a tick
 *   below the source's pairs the previous source frame. Measured with lossless rungs made by
 *   `fps`: 120 → 60 fps, VFR with jitter, and fire2_rotate180.mp4 all pair every frame (PSNR inf);
 *   without `fps` here 11 of fire2's 25 frames were paired with a neighbour.
 * - `settb=AVTB`: one time base on every link; for a rate like 750000/71393 framesync falls back
 *   to it anyway and logs "not matching timebases" warnings.
 * Caveat: a rung made with the CLI's `-fps_mode cfr -r R` and no `fps` filter lags a VFR or
 * higher-rate source by up to ~1 frame (a 1.1-frame drift tolerance), so a few frames meet a
 * neighbour and the scores read low (fire2 at 144p: SSIM 0.92 / PSNR 26.7 against 0.97 / 38.0
 * for the same encode through `fps`). CFR sources at the output rate, the usual case, are exact.
 */
import { inputHardeningArgs } from '../../media/input-hardening.js';
import { GLOBAL_ARGS } from './transcode-commands.js';

export interface SsimScores { y: number; u: number; v: number; all: number; /** All, in dB: -10·log10(1 − SSIM). */ db: number }
export interface PsnrScores { y: number; u: number; v: number; average: number; min: number; max: number }
export interface QualityScores { ssim: SsimScores; psnr: PsnrScores }

export interface RenditionToMeasure {
  name: string;
  file: string;
  width: number;
  height: number;
  /** The rendition's constant frame rate as ffmpeg reads it ("30000/1001"): the ladder's frameRate. */
  frameRate: string;
}

export interface QualityReport {
  method: string;
  renditions: Array<{ name: string; width: number; height: number } & QualityScores>;
}

export const QUALITY_METHOD =
  'SSIM and PSNR (ffmpeg ssim/psnr filters) of each rendition against the source scaled to its size with bicubic, ' +
  'frames paired on the rendition\'s frame-rate grid';

export function qualityArgs(
  rendition: string,
  source: string,
  opts: { width: number; height: number; sourceVideoStream: number; frameRate: string },
): string[] {
  // It goes into a filter graph: a plan's rate ("30000/1001", "25", "10.505"), nothing else.
  if (!/^[1-9][0-9]*(\.[0-9]+)?(\/[1-9][0-9]*)?$/.test(opts.frameRate)) throw new Error(`not a frame rate: "${opts.frameRate}"`);
  const grid = `setpts=PTS-STARTPTS,fps=${opts.frameRate},settb=AVTB`;
  const graph = [
    `[0:v:0]${grid},format=yuv420p[dist]`,
    // ffmpeg's default autorotate applies to -filter_complex inputs too, so the source is upright
    // here as it was when the rendition was made; setsar=1 as the rungs (their width came from
    // the display aspect). split: the reference feeds both metrics.
    `[1:${opts.sourceVideoStream}]${grid},scale=${opts.width}:${opts.height}:flags=bicubic,setsar=1,format=yuv420p,split[ref0][ref1]`,
    // ssim passes its first input through untouched, so psnr sees the same rendition frames.
    '[dist][ref0]ssim[dist1]',
    '[dist1][ref1]psnr[out]',
  ].join(';');
  return [
    ...GLOBAL_ARGS,
    '-i', rendition, // our own MP4: no hardening needed
    ...inputHardeningArgs(),
    '-i', source,
    '-filter_complex', graph,
    '-map', '[out]',
    '-f', 'null', '-',
  ];
}

// Anchored at the start of the line: the source's metadata (a title, say) is printed in the same
// log, but always indented, so it cannot pass for a filter's summary.
const SSIM_LINE =
  /^\[Parsed_ssim_\d+ @ 0x[0-9a-f]+\] (?:\[info\] )?SSIM Y:(?<y>\S+) \(\S+\) U:(?<u>\S+) \(\S+\) V:(?<v>\S+) \(\S+\) All:(?<all>\S+) \((?<db>\S+)\)/;
const PSNR_LINE =
  /^\[Parsed_psnr_\d+ @ 0x[0-9a-f]+\] (?:\[info\] )?PSNR y:(?<y>\S+) u:(?<u>\S+) v:(?<v>\S+) average:(?<average>\S+) min:(?<min>\S+) max:(?<max>\S+)/;

export class QualityLogError extends Error {}

/** The summaries ssim and psnr log when they close (none when no frame was compared). */
export function parseQualityLog(lines: string[]): QualityScores {
  return {
    ssim: lastMatch(lines, SSIM_LINE, 'SSIM', ['y', 'u', 'v', 'all', 'db'] as const),
    psnr: lastMatch(lines, PSNR_LINE, 'PSNR', ['y', 'u', 'v', 'average', 'min', 'max'] as const),
  };
}

function lastMatch<K extends string>(lines: string[], pattern: RegExp, what: string, keys: readonly K[]): Record<K, number> {
  for (let i = lines.length - 1; i >= 0; i--) {
    const groups = pattern.exec(lines[i]!)?.groups;
    if (groups === undefined) continue;
    const scores = {} as Record<K, number>;
    for (const k of keys) scores[k] = metric(groups[k] ?? '', what);
    return scores;
  }
  throw new QualityLogError(`ffmpeg logged no ${what} summary (no frames compared, or the run failed before the end)`);
}

function metric(token: string, what: string): number {
  if (token === 'inf') return Infinity; // identical frames: no error at all
  const n = Number(token);
  if (token === '' || !Number.isFinite(n)) throw new QualityLogError(`unreadable ${what} value "${token}"`);
  return n;
}

/** The renditions one after another (each run is a full decode of the source). */
export async function measureQuality(
  run: (args: string[], onLog: (line: string) => void) => Promise<void>,
  renditions: RenditionToMeasure[],
  source: string,
  sourceVideoStream: number,
): Promise<QualityReport> {
  const measured: QualityReport['renditions'] = [];
  for (const r of renditions) {
    const lines: string[] = [];
    await run(qualityArgs(r.file, source, { width: r.width, height: r.height, sourceVideoStream, frameRate: r.frameRate }), (line) => lines.push(line));
    measured.push({ name: r.name, width: r.width, height: r.height, ...parseQualityLog(lines) });
  }
  return { method: QUALITY_METHOD, renditions: measured };
}
