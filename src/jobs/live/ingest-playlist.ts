/**
 * The encoder's own playlist (what `ffmpeg -f hls -method PUT` sends after each segment): the
 * order and duration of the segments. Every URI must be a plain name in the channel's ingest
 * folder — no path, no scheme, no `..` — so a playlist cannot make the farm read anything else.
 */
export const SEGMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const MAX_LINES = 20_000;

export interface IngestSegment {
  seq: number;
  name: string;
  duration: number;
  discontinuity: boolean;
}

export interface IngestPlaylist {
  mediaSequence: number;
  segments: IngestSegment[];
  ended: boolean;
}

export class PlaylistError extends Error {}

export function parseIngestPlaylist(text: string): IngestPlaylist {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  if (lines[0] !== '#EXTM3U') throw new PlaylistError('the playlist does not start with #EXTM3U');
  if (lines.length > MAX_LINES) throw new PlaylistError(`the playlist has more than ${MAX_LINES} lines`);
  if (lines.some((l) => l.startsWith('#EXT-X-STREAM-INF'))) throw new PlaylistError('send a media playlist (the segments), not a master playlist');
  if (lines.some((l) => l.startsWith('#EXT-X-MAP'))) throw new PlaylistError('fMP4 segments are not taken: send MPEG-TS segments (ffmpeg\'s default -hls_segment_type mpegts)');
  let mediaSequence = 0;
  let duration: number | null = null;
  let discontinuity = false;
  const segments: IngestSegment[] = [];
  for (const line of lines.slice(1)) {
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) {
      mediaSequence = Number(line.slice(22));
      if (!Number.isInteger(mediaSequence) || mediaSequence < 0) throw new PlaylistError(`EXT-X-MEDIA-SEQUENCE must be a whole number, got ${line.slice(22, 40)}`);
    } else if (line.startsWith('#EXTINF:')) {
      duration = Number.parseFloat(line.slice(8));
      if (!(duration > 0 && duration <= 60)) throw new PlaylistError(`EXTINF must be a duration of 0 to 60 s, got ${line.slice(8, 30)}`);
    } else if (line === '#EXT-X-DISCONTINUITY') {
      discontinuity = true;
    } else if (!line.startsWith('#')) {
      if (!SEGMENT_NAME.test(line)) throw new PlaylistError(`the playlist references "${line.slice(0, 80)}", which is outside the channel: segment URIs must be plain file names`);
      if (duration === null) throw new PlaylistError(`segment ${line} has no #EXTINF before it`);
      segments.push({ seq: mediaSequence + segments.length, name: line, duration, discontinuity });
      duration = null;
      discontinuity = false;
    }
  }
  return { mediaSequence, segments, ended: lines.includes('#EXT-X-ENDLIST') };
}

/** MPEG-TS (sync byte 0x47 every 188 bytes): what the channel takes as segments. */
export function looksLikeMpegTs(head: Uint8Array): boolean {
  if (head.length < 188) return false;
  for (let i = 0; i + 188 <= Math.min(head.length, 188 * 4); i += 188) if (head[i] !== 0x47) return false;
  return true;
}
