/** A live segment's ffprobe answer, distilled (pure; probeSegment in ffmpeg.ts runs ffprobe). */

export interface SegmentProbe {
  width: number;
  height: number;
  videoCodec: string;
  profile: string | null;
  level: number | null;
  audioCodec: string | null;
  /** Where the segment's timeline starts (s): a jump from the previous segment's end is a new encoder session. */
  start: number;
  duration: number;
  fps: number;
  bytes: number;
}

interface RawStream {
  codec_type?: string;
  codec_name?: string;
  profile?: string;
  level?: number;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
}

export function parseSegmentProbe(raw: unknown): SegmentProbe {
  const r = raw as { streams?: RawStream[]; format?: { start_time?: string; duration?: string; size?: string } };
  const video = r.streams?.find((s) => s.codec_type === 'video');
  if (!video?.codec_name || !video.width || !video.height) throw new Error('no video stream');
  const audio = r.streams?.find((s) => s.codec_type === 'audio');
  const [num, den] = (video.avg_frame_rate ?? '0/1').split('/').map(Number);
  return {
    width: video.width,
    height: video.height,
    videoCodec: video.codec_name,
    profile: video.profile ?? null,
    level: typeof video.level === 'number' && video.level > 0 ? video.level : null,
    audioCodec: audio?.codec_name ?? null,
    start: Number(r.format?.start_time ?? 0) || 0,
    duration: Number(r.format?.duration ?? 0) || 0,
    fps: num && den ? num / den : 0,
    bytes: Number(r.format?.size ?? 0) || 0,
  };
}
