/** Turns `ffprobe -of json -show_format -show_streams` output into a MediaProbe (pure). */
import type { AudioStreamInfo, MediaProbe, VideoStreamInfo } from './media-probe.js';

interface RawStream {
  index: number;
  codec_type?: string;
  codec_name?: string;
  profile?: string;
  pix_fmt?: string;
  bits_per_raw_sample?: string;
  width?: number;
  height?: number;
  sample_aspect_ratio?: string;
  r_frame_rate?: string;
  avg_frame_rate?: string;
  nb_frames?: string;
  channels?: number;
  sample_rate?: string;
  disposition?: { attached_pic?: number };
  tags?: Record<string, string>;
  side_data_list?: Array<{ side_data_type?: string; rotation?: number }>;
}

interface RawProbe {
  streams?: RawStream[];
  format?: { format_name?: string; duration?: string; size?: string; bit_rate?: string };
}

export function parseFfprobeJson(raw: unknown): MediaProbe {
  const probe = raw as RawProbe;
  if (!probe || typeof probe !== 'object' || !probe.format) throw new Error('no format section');
  const streams = probe.streams ?? [];
  // Cover art in MP3/MP4 is a one-frame "video" stream: it is not the picture we want.
  const v = streams.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  const a = streams.find((s) => s.codec_type === 'audio');
  return {
    formatName: probe.format.format_name ?? 'unknown',
    durationSeconds: num(probe.format.duration) ?? 0,
    sizeBytes: num(probe.format.size) ?? 0,
    bitRate: num(probe.format.bit_rate),
    video: v ? videoInfo(v) : null,
    audio: a ? audioInfo(a) : null,
  };
}

function videoInfo(s: RawStream): VideoStreamInfo {
  const width = s.width ?? 0;
  const height = s.height ?? 0;
  const sampleAspect = ratio(s.sample_aspect_ratio) ?? { num: 1, den: 1 };
  const rotation = rotationOf(s);
  const sarWidth = Math.round((width * sampleAspect.num) / sampleAspect.den);
  const swap = rotation === 90 || rotation === 270;
  const avg = rate(s.avg_frame_rate);
  const real = rate(s.r_frame_rate);
  const pixFmt = s.pix_fmt ?? 'unknown';
  return {
    index: s.index,
    codec: s.codec_name ?? 'unknown',
    profile: s.profile ?? null,
    pixFmt,
    bitDepth: num(s.bits_per_raw_sample) ?? bitDepthOf(pixFmt),
    width,
    height,
    rotation,
    sampleAspect,
    displayWidth: swap ? height : sarWidth,
    displayHeight: swap ? sarWidth : height,
    frameRate: avg || real,
    variableFrameRate: avg > 0 && real > 0 && Math.abs(avg - real) / real > 0.01,
    frameCount: num(s.nb_frames),
  };
}

function audioInfo(s: RawStream): AudioStreamInfo {
  return { index: s.index, codec: s.codec_name ?? 'unknown', channels: s.channels ?? 0, sampleRate: num(s.sample_rate) ?? 0 };
}

/** Clockwise degrees a player applies: the display matrix gives counter-clockwise, `rotate` tags clockwise. */
function rotationOf(s: RawStream): 0 | 90 | 180 | 270 {
  const matrix = s.side_data_list?.find((d) => d.side_data_type === 'Display Matrix' && typeof d.rotation === 'number');
  const degrees = matrix ? -(matrix.rotation as number) : (num(s.tags?.rotate) ?? 0);
  const r = (((Math.round(degrees / 90) * 90) % 360) + 360) % 360;
  return r as 0 | 90 | 180 | 270;
}

function bitDepthOf(pixFmt: string): number {
  const m = /p(9|10|12|14|16)(le|be)?$/.exec(pixFmt);
  return m ? Number(m[1]) : 8;
}

function num(v: string | number | undefined): number | null {
  if (v === undefined || v === 'N/A') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

function ratio(v: string | undefined): { num: number; den: number } | null {
  const m = /^(\d+):(\d+)$/.exec(v ?? '');
  if (!m || Number(m[1]) === 0 || Number(m[2]) === 0) return null;
  return { num: Number(m[1]), den: Number(m[2]) };
}

function rate(v: string | undefined): number {
  const m = /^(\d+)\/(\d+)$/.exec(v ?? '');
  if (!m || Number(m[2]) === 0) return 0;
  return Number(m[1]) / Number(m[2]);
}
