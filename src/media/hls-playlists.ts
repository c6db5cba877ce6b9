/**
 * Reading HLS playlists (RFC 8216): the master's variants and renditions, a media playlist's
 * segments. Used to verify what the farm packaged before a job succeeds, and by tests.
 */

export interface HlsVariant {
  uri: string;
  bandwidth: number;
  averageBandwidth: number | null;
  resolution: { width: number; height: number } | null;
  codecs: string[];
  audio: string | null;
  frameRate: number | null;
}

export interface HlsRendition {
  type: string;
  groupId: string;
  name: string;
  uri: string | null;
}

export interface HlsMaster {
  variants: HlsVariant[];
  renditions: HlsRendition[];
}

export interface HlsMediaPlaylist {
  targetDuration: number;
  segments: Array<{ uri: string; duration: number }>;
  /** The fMP4 initialization section (EXT-X-MAP), if any. */
  map: string | null;
  endList: boolean;
  playlistType: string | null;
}

/** `KEY=value,KEY="quoted, value"` → record. */
export function parseAttributes(list: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of list.matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) out[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  return out;
}

export function parseMaster(text: string): HlsMaster {
  const lines = checkHeader(text);
  const variants: HlsVariant[] = [];
  const renditions: HlsRendition[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('#EXT-X-MEDIA:')) {
      const a = parseAttributes(line.slice('#EXT-X-MEDIA:'.length));
      renditions.push({ type: a.TYPE ?? '', groupId: a['GROUP-ID'] ?? '', name: a.NAME ?? '', uri: a.URI ?? null });
    } else if (line.startsWith('#EXT-X-STREAM-INF:')) {
      const a = parseAttributes(line.slice('#EXT-X-STREAM-INF:'.length));
      const uri = lines.slice(i + 1).find((l) => l !== '' && !l.startsWith('#'));
      if (!uri) throw new Error('EXT-X-STREAM-INF without a URI');
      const res = /^(\d+)x(\d+)$/.exec(a.RESOLUTION ?? '');
      variants.push({
        uri,
        bandwidth: Number(a.BANDWIDTH),
        averageBandwidth: a['AVERAGE-BANDWIDTH'] ? Number(a['AVERAGE-BANDWIDTH']) : null,
        resolution: res ? { width: Number(res[1]), height: Number(res[2]) } : null,
        codecs: a.CODECS ? a.CODECS.split(',').map((c) => c.trim()) : [],
        audio: a.AUDIO ?? null,
        frameRate: a['FRAME-RATE'] ? Number(a['FRAME-RATE']) : null,
      });
    }
  }
  return { variants, renditions };
}

export function parseMediaPlaylist(text: string): HlsMediaPlaylist {
  const lines = checkHeader(text);
  const segments: HlsMediaPlaylist['segments'] = [];
  let duration: number | null = null;
  let targetDuration = 0;
  let map: string | null = null;
  let playlistType: string | null = null;
  for (const line of lines) {
    if (line.startsWith('#EXT-X-TARGETDURATION:')) targetDuration = Number(line.split(':')[1]);
    else if (line.startsWith('#EXT-X-PLAYLIST-TYPE:')) playlistType = line.split(':')[1]!;
    else if (line.startsWith('#EXT-X-MAP:')) map = parseAttributes(line.slice('#EXT-X-MAP:'.length)).URI ?? null;
    else if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice('#EXTINF:'.length));
    else if (line !== '' && !line.startsWith('#')) {
      if (duration === null) throw new Error(`segment ${line} has no EXTINF`);
      segments.push({ uri: line, duration });
      duration = null;
    }
  }
  return { targetDuration, segments, map, endList: lines.includes('#EXT-X-ENDLIST'), playlistType };
}

function checkHeader(text: string): string[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  if (lines[0] !== '#EXTM3U') throw new Error('not an HLS playlist (no #EXTM3U)');
  return lines;
}
