import { describe, expect, it } from 'vitest';
import { liveMasterPlaylist, liveMediaPlaylist, type PublishedSegment } from './live-playlists.js';

const seg = (seq: number, extra: Partial<PublishedSegment> = {}): PublishedSegment => ({ seq, duration: 2, gap: false, discontinuity: false, ...extra });

describe('liveMediaPlaylist', () => {
  it('slides a window over the segments, with the media sequence of the first one shown', () => {
    const text = liveMediaPlaylist({ segments: [0, 1, 2, 3, 4].map((n) => seg(n)), windowSize: 3, segmentDuration: 2, ended: false, vod: false });
    expect(text).toBe(['#EXTM3U', '#EXT-X-VERSION:6', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:2', '#EXTINF:2.000,', '2.ts', '#EXTINF:2.000,', '3.ts', '#EXTINF:2.000,', '4.ts', ''].join('\n'));
  });

  it('lists a late segment as EXT-X-GAP, in place, so players skip it', () => {
    const text = liveMediaPlaylist({ segments: [seg(0), seg(1, { gap: true }), seg(2)], windowSize: 6, segmentDuration: 2, ended: false, vod: false });
    expect(text).toContain('#EXTINF:2.000,\n0.ts\n#EXT-X-GAP\n#EXTINF:2.000,\n1.ts\n#EXTINF:2.000,\n2.ts\n');
  });

  it('counts discontinuities that left the window, keeps those inside it', () => {
    const segments = [seg(0), seg(1, { discontinuity: true }), seg(2), seg(3, { discontinuity: true }), seg(4)];
    const text = liveMediaPlaylist({ segments, windowSize: 3, segmentDuration: 2, ended: false, vod: false });
    expect(text).toContain('#EXT-X-DISCONTINUITY-SEQUENCE:1\n');
    expect(text).toContain('#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\n3.ts');
    expect(text.match(/#EXT-X-DISCONTINUITY\n/g)).toHaveLength(1);
  });

  it('closes with ENDLIST, and as a VOD lists every segment when archived', () => {
    const segments = [0, 1, 2, 3].map((n) => seg(n));
    const live = liveMediaPlaylist({ segments, windowSize: 2, segmentDuration: 2, ended: true, vod: false });
    expect(live).toMatch(/#EXT-X-MEDIA-SEQUENCE:2\n[\s\S]*#EXT-X-ENDLIST\n$/);
    const vod = liveMediaPlaylist({ segments, windowSize: 2, segmentDuration: 2, ended: true, vod: true });
    expect(vod).toContain('#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n');
    expect(vod.match(/\.ts/g)).toHaveLength(4);
  });

  it('sets the target duration to the longest segment shown (rounded), never below the nominal', () => {
    expect(liveMediaPlaylist({ segments: [seg(0, { duration: 2.6 })], windowSize: 3, segmentDuration: 2, ended: false, vod: false })).toContain('#EXT-X-TARGETDURATION:3\n');
    expect(liveMediaPlaylist({ segments: [], windowSize: 3, segmentDuration: 4, ended: false, vod: false })).toBe('#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n');
  });
});

describe('liveMasterPlaylist', () => {
  it('lists each rung with its bandwidth, size and codecs', () => {
    expect(liveMasterPlaylist([{ name: '720p', width: 1280, height: 720, bandwidth: 3_488_000, codecs: ['avc1.640028', 'mp4a.40.2'] }, { name: 'source', width: 7680, height: 4320, bandwidth: 1e8, codecs: [] }])).toBe(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:6',
        '#EXT-X-INDEPENDENT-SEGMENTS',
        '#EXT-X-STREAM-INF:BANDWIDTH=3488000,RESOLUTION=1280x720,CODECS="avc1.640028,mp4a.40.2"',
        '720p/index.m3u8',
        '#EXT-X-STREAM-INF:BANDWIDTH=100000000,RESOLUTION=7680x4320',
        'source/index.m3u8',
        '',
      ].join('\n'),
    );
  });
});
