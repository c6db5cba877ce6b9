import { describe, expect, it } from 'vitest';
import { looksLikeMpegTs, parseIngestPlaylist } from './ingest-playlist.js';

// What ffmpeg 5.1's hls muxer PUTs after its third segment (-hls_time 2 -hls_list_size 5).
const FFMPEG = `#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:0
#EXTINF:2.400000,
index0.ts
#EXTINF:2.400000,
index1.ts
#EXTINF:2.000000,
index2.ts
`;

describe('parseIngestPlaylist', () => {
  it('reads the order and durations ffmpeg sends', () => {
    expect(parseIngestPlaylist(FFMPEG)).toEqual({
      mediaSequence: 0,
      ended: false,
      segments: [
        { seq: 0, name: 'index0.ts', duration: 2.4, discontinuity: false },
        { seq: 1, name: 'index1.ts', duration: 2.4, discontinuity: false },
        { seq: 2, name: 'index2.ts', duration: 2, discontinuity: false },
      ],
    });
  });

  it('numbers segments from the media sequence, and sees discontinuities and the end', () => {
    const p = parseIngestPlaylist('#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:2,\na.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:1.5,\nb.ts\n#EXT-X-ENDLIST\n');
    expect(p.segments.map((s) => [s.seq, s.discontinuity])).toEqual([[7, false], [8, true]]);
    expect(p.ended).toBe(true);
  });

  it.each([
    ['http://evil.example/x.ts', /outside the channel/],
    ['../other/index0.ts', /outside the channel/],
    ['/etc/passwd', /outside the channel/],
    ['file:/etc/passwd', /outside the channel/],
    ['sub/index0.ts', /outside the channel/],
    ['.hidden.ts', /outside the channel/],
  ])('refuses a URI outside the channel: %s', (uri, error) => {
    expect(() => parseIngestPlaylist(`#EXTM3U\n#EXTINF:2,\n${uri}\n`)).toThrow(error);
  });

  it.each([
    ['not a playlist', /#EXTM3U/],
    ['#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv0/index.m3u8\n', /not a master playlist/],
    ['#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:2,\na.m4s\n', /MPEG-TS/],
    ['#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:-1\n', /whole number/],
    ['#EXTM3U\n#EXTINF:0,\na.ts\n', /duration/],
    ['#EXTM3U\n#EXTINF:abc,\na.ts\n', /duration/],
    ['#EXTM3U\na.ts\n', /no #EXTINF/],
  ])('refuses a broken playlist with its reason (%#)', (text, error) => {
    expect(() => parseIngestPlaylist(text)).toThrow(error);
  });
});

describe('looksLikeMpegTs', () => {
  const ts = new Uint8Array(188 * 4).map((_, i) => (i % 188 === 0 ? 0x47 : 0));
  it('takes packets with a sync byte every 188 bytes', () => expect(looksLikeMpegTs(ts)).toBe(true));
  it('refuses text, MP4 and short bodies', () => {
    expect(looksLikeMpegTs(new TextEncoder().encode('G'.repeat(10)))).toBe(false);
    expect(looksLikeMpegTs(new TextEncoder().encode('<html>'.repeat(200)))).toBe(false);
    const mp4 = new Uint8Array(800);
    mp4.set(new TextEncoder().encode('\0\0\0\x18ftypisom'));
    expect(looksLikeMpegTs(mp4)).toBe(false);
    expect(looksLikeMpegTs(ts.subarray(0, 100))).toBe(false);
  });
});
