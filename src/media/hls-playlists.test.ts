import { describe, expect, it } from 'vitest';
import { parseAttributes, parseMaster, parseMediaPlaylist } from './hls-playlists.js';

describe('HLS playlists', () => {
  it('reads quoted attributes with commas in them', () => {
    expect(parseAttributes('BANDWIDTH=1400000,RESOLUTION=854x480,CODECS="avc1.64001e,mp4a.40.2",AUDIO="aud"')).toEqual({
      BANDWIDTH: '1400000', RESOLUTION: '854x480', CODECS: 'avc1.64001e,mp4a.40.2', AUDIO: 'aud',
    });
  });

  it('reads a master with an audio group and variants', () => {
    const master = parseMaster(
      ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="audio",DEFAULT=YES,URI="v2/index.m3u8"', '',
        '#EXT-X-STREAM-INF:BANDWIDTH=3220800,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2",AUDIO="aud"', 'v0/index.m3u8', '',
        '#EXT-X-STREAM-INF:BANDWIDTH=1540000,RESOLUTION=854x480,CODECS="avc1.64001e,mp4a.40.2",AUDIO="aud"', 'v1/index.m3u8'].join('\n'),
    );
    expect(master.renditions).toEqual([{ type: 'AUDIO', groupId: 'aud', name: 'audio', uri: 'v2/index.m3u8' }]);
    expect(master.variants.map((v) => [v.uri, v.bandwidth, v.resolution?.height, v.codecs, v.audio])).toEqual([
      ['v0/index.m3u8', 3220800, 720, ['avc1.64001f', 'mp4a.40.2'], 'aud'],
      ['v1/index.m3u8', 1540000, 480, ['avc1.64001e', 'mp4a.40.2'], 'aud'],
    ]);
  });

  it('reads a VOD media playlist with its init section', () => {
    const p = parseMediaPlaylist(['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-TARGETDURATION:4', '#EXT-X-PLAYLIST-TYPE:VOD', '#EXT-X-MAP:URI="init.mp4"', '#EXTINF:4.000000,', 'seg_00000.m4s', '#EXTINF:1.500000,', 'seg_00001.m4s', '#EXT-X-ENDLIST', ''].join('\n'));
    expect(p).toEqual({ targetDuration: 4, playlistType: 'VOD', map: 'init.mp4', endList: true, segments: [{ uri: 'seg_00000.m4s', duration: 4 }, { uri: 'seg_00001.m4s', duration: 1.5 }] });
  });

  it('refuses what is not a playlist', () => {
    expect(() => parseMaster('hello')).toThrow(/not an HLS playlist/);
    expect(() => parseMediaPlaylist('#EXTM3U\nseg.m4s')).toThrow(/no EXTINF/);
  });
});
