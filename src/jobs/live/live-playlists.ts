/**
 * The live HLS a channel publishes (RFC 8216 with EXT-X-GAP from its second edition): a master
 * listing each rung, and per rung a sliding-window media playlist. A segment that missed its
 * deadline is listed with #EXT-X-GAP, so players skip it instead of stalling; a jump in the
 * source's timeline (a new encoder session) gets #EXT-X-DISCONTINUITY. When the event ends the
 * playlists close with #EXT-X-ENDLIST, and an archived event lists every segment as a VOD.
 */
export interface PublishedSegment {
  seq: number;
  duration: number;
  gap: boolean;
  discontinuity: boolean;
}

export interface MasterVariant {
  name: string;
  width: number;
  height: number;
  bandwidth: number;
  codecs: string[];
}

export function liveMasterPlaylist(variants: MasterVariant[]): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:6', '#EXT-X-INDEPENDENT-SEGMENTS'];
  for (const v of variants) {
    const codecs = v.codecs.length ? `,CODECS="${v.codecs.join(',')}"` : '';
    lines.push(`#EXT-X-STREAM-INF:BANDWIDTH=${Math.max(1, Math.round(v.bandwidth))},RESOLUTION=${v.width}x${v.height}${codecs}`, `${v.name}/index.m3u8`);
  }
  return `${lines.join('\n')}\n`;
}

export interface MediaPlaylistOptions {
  /** Segments resolved so far (published or gap), in order and without holes. */
  segments: PublishedSegment[];
  windowSize: number;
  /** The nominal segment duration: the target duration before any segment is known. */
  segmentDuration: number;
  ended: boolean;
  /** Ended and archived: every segment, as a VOD. */
  vod: boolean;
}

export function liveMediaPlaylist(o: MediaPlaylistOptions): string {
  const shown = o.vod ? o.segments : o.segments.slice(-o.windowSize);
  const hidden = o.segments.length - shown.length;
  const discontinuitiesBefore = o.segments.slice(0, hidden).filter((s) => s.discontinuity).length;
  const target = Math.max(o.segmentDuration, ...shown.map((s) => Math.round(s.duration)));
  const lines = ['#EXTM3U', '#EXT-X-VERSION:6', `#EXT-X-TARGETDURATION:${target}`, `#EXT-X-MEDIA-SEQUENCE:${shown[0]?.seq ?? 0}`];
  if (discontinuitiesBefore) lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${discontinuitiesBefore}`);
  if (o.vod) lines.push('#EXT-X-PLAYLIST-TYPE:VOD');
  for (const s of shown) {
    // DISCONTINUITY-SEQUENCE above counts only the tags of segments that left the window.
    if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    if (s.gap) lines.push('#EXT-X-GAP');
    lines.push(`#EXTINF:${s.duration.toFixed(3)},`, `${s.seq}.ts`);
  }
  if (o.ended) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}
