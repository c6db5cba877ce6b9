/**
 * ffmpeg commands of split-and-stitch (pure): cut the source's video at keyframes without
 * re-encoding, and join the encoded pieces without re-encoding, adding the source's audio.
 */
import { inputHardeningArgs } from '../../media/input-hardening.js';
import { audioArgs, GLOBAL_ARGS } from './transcode-commands.js';

/** `<dir>/src_000.mkv`, … : Matroska keeps each piece's timing exactly as copied. */
export const SOURCE_CHUNK_PATTERN = 'src_%03d.mkv';

export function splitArgs(source: string, dir: string, opts: { chunkSeconds: number; videoStream: number }): string[] {
  return [
    ...GLOBAL_ARGS,
    ...inputHardeningArgs(),
    '-i', source,
    '-map', `0:${opts.videoStream}`, '-an', '-sn', '-dn',
    // Stream copy cuts only at keyframes: each piece starts with one, so it decodes alone.
    '-c', 'copy',
    '-f', 'segment', '-segment_time', String(opts.chunkSeconds),
    // Each piece starts at 0: encoded alone, then joined by the concat demuxer, which lays them end to end.
    '-reset_timestamps', '1', '-segment_format', 'matroska',
    `${dir}/${SOURCE_CHUNK_PATTERN}`,
  ];
}

/** The concat demuxer's list of the encoded pieces, in order (our own files: no user text in it). */
export function concatList(files: readonly string[]): string {
  return `ffconcat version 1.0\n${files.map((f) => `file '${f.replace(/'/g, "'\\''")}'`).join('\n')}\n`;
}

export function stitchArgs(list: string, source: string, output: string, opts: { audioStream: number | null; audioBitrate: string }): string[] {
  return [
    ...GLOBAL_ARGS,
    // The list is ours and names absolute paths: -safe 0 allows them.
    '-f', 'concat', '-safe', '0', '-i', list,
    ...inputHardeningArgs(),
    '-i', source,
    '-map', '0:v:0', ...(opts.audioStream === null ? [] : ['-map', `1:${opts.audioStream}`]),
    '-map_metadata', '-1', '-sn', '-dn',
    '-c:v', 'copy',
    ...audioArgs(opts),
    '-movflags', '+faststart',
    '-f', 'mp4', output,
  ];
}
