/**
 * Flags that go before `-i` on every ffmpeg/ffprobe that reads user media.
 *
 * Some demuxers follow references inside the file: an HLS playlist (whatever its extension; the
 * demuxer is picked by content) can list `file:///etc/passwd` or `http://169.254.169.254/…` as
 * segments, `concat` lists other files, `image2` expands patterns. Two locks close that:
 * - `-protocol_whitelist file`: only local files can be opened (nested opens inherit the list),
 *   so no network and no `concat:`/`subfile:`/`data:` tricks.
 * - `-format_whitelist`: only demuxers of self-contained media containers and raw streams; a
 *   file probed as anything else fails with "Format not on whitelist".
 */

/**
 * ffmpeg demuxer names (as `ffmpeg -demuxers` lists them; one name of a multi-name demuxer such
 * as "mov,mp4,m4a,3gp,3g2,mj2" enables it, more are listed for the reader). Deliberately absent:
 * hls, dash, concat, image2/image2pipe and the *_pipe image demuxers, lavfi, tty, data, ffmetadata,
 * sdp/rtp/rtsp, webm_dash_manifest, and device inputs. MPEG program streams are `mpeg` (there is
 * no `mpegps` demuxer).
 */
export const SAFE_DEMUXERS: readonly string[] = [
  // ISO BMFF / QuickTime family
  'mov', 'mp4', 'm4a', '3gp', '3g2', 'mj2',
  'matroska', 'webm',
  'avi', 'flv', 'asf', 'wtv', 'nut',
  'mpegts', 'mpeg', 'mxf', 'dv', 'ogg',
  // raw video elementary streams
  'h264', 'hevc', 'h263', 'mpegvideo', 'm4v', 'ivf', 'obu', 'yuv4mpegpipe', 'gif',
  // audio-only containers and raw audio streams
  'wav', 'aiff', 'caf', 'mp3', 'aac', 'ac3', 'eac3', 'flac', 'amr',
];

export function inputHardeningArgs(): string[] {
  return ['-protocol_whitelist', 'file', '-format_whitelist', SAFE_DEMUXERS.join(',')];
}
