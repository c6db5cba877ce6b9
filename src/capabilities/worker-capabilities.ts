/**
 * What a worker can do, probed once at start (workers/probe) and passed down as data: plans read
 * it, nothing below the probe touches a device.
 */
export interface GpuReading {
  index: number;
  uuid: string;
  name: string; // "NVIDIA H100 80GB HBM3", "Tesla T4"…
  memoryTotalMiB: number;
  memoryUsedMiB: number;
  utilizationGpuPercent: number | null;
  utilizationEncoderPercent: number | null;
  utilizationDecoderPercent: number | null;
  temperatureC: number | null;
  powerDrawW: number | null;
  driverVersion: string | null;
  cudaVersion: string | null;
}

/** Hardware video paths that passed a real one-frame test on this worker's GPU. */
export interface VideoAcceleration {
  /** GPU index the tests ran on. */
  gpuIndex: number;
  /** Source codecs (ffprobe names: h264, hevc, av1, vp9…) that NVDEC decoded in the test. */
  nvdecCodecs: string[];
  /** NVENC encoders that produced a frame: h264_nvenc, hevc_nvenc, av1_nvenc. */
  nvencEncoders: string[];
  /** scale_cuda filter worked on a decoded frame. */
  scaleCuda: boolean;
}

export interface RendererInfo {
  name: string; // "blender"
  path: string;
  version: string | null;
}

export interface WorkerCapabilities {
  hostname: string;
  cpuCount: number;
  /** GPUs this worker may use: all of nvidia-smi's, or the one `--gpu N` pinned. */
  gpus: GpuReading[];
  ffmpeg: { path: string; version: string; encoders: string[] } | null;
  /** null when no GPU path passed its test (or no GPU). */
  videoAcceleration: VideoAcceleration | null;
  onnxRuntime: { version: string; providers: string[] } | null;
  renderers: RendererInfo[];
  /** Why a capability is missing, for the operator: "nvidia-smi not found", "h264_nvenc: …". */
  notes: string[];
}
