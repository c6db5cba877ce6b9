/**
 * What the farm knows about a media file, distilled from `ffprobe -of json` so that plans can be
 * pure functions of data. Dimensions are given both as stored and as displayed (rotation from the
 * display matrix and sample aspect ratio applied), because "never upscale" and "target height"
 * are about what the viewer sees.
 */
export interface VideoStreamInfo {
  index: number;
  codec: string; // ffprobe codec_name: h264, hevc, av1, vp9, prores, mjpeg…
  profile: string | null;
  pixFmt: string; // yuv420p, yuv422p10le, yuvj420p…
  bitDepth: number; // 8, 10, 12
  width: number; // coded width as stored
  height: number;
  /** Rotation the player must apply, in degrees clockwise: 0, 90, 180 or 270. */
  rotation: 0 | 90 | 180 | 270;
  /** Sample aspect ratio as num/den (1/1 for square pixels). */
  sampleAspect: { num: number; den: number };
  /** Width and height as displayed: SAR applied to the width, then rotation. */
  displayWidth: number;
  displayHeight: number;
  /** Average frame rate in frames per second (0 when unknown). */
  frameRate: number;
  /** True when r_frame_rate and avg_frame_rate disagree: the stream has variable frame timing. */
  variableFrameRate: boolean;
  frameCount: number | null;
}

export interface AudioStreamInfo {
  index: number;
  codec: string;
  channels: number;
  sampleRate: number;
}

export interface MediaProbe {
  formatName: string;
  durationSeconds: number;
  sizeBytes: number;
  bitRate: number | null;
  video: VideoStreamInfo | null;
  audio: AudioStreamInfo | null;
}
