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

/** What the worker's Blender can do, from a probe inside Blender itself (workers/probe/blender-probe.ts). */
export interface BlenderCaps {
  version: string; // bpy.app.version_string: "3.4.1"
  /** Cycles device types with at least one device here, best first; CPU whenever Cycles runs at all. */
  cyclesDevices: Array<'OPTIX' | 'CUDA' | 'HIP' | 'METAL' | 'ONEAPI' | 'CPU'>;
  /** The GPUs Cycles found, one entry per device and type (an NVIDIA card shows under OPTIX and CUDA). */
  gpuDevices: Array<{ type: string; name: string }>;
  /** Built with OpenImageDenoise. Debian's 3.4 is not: denoising on fails with "Build without OpenImageDenoiser". */
  openImageDenoise: boolean;
  /** The OptiX denoiser: there only where Cycles found an OptiX device. */
  optixDenoiser: boolean;
}

export interface RendererInfo {
  name: string; // "blender"
  path: string;
  version: string | null;
  /** Absent when the probe inside Blender failed (the notes say why) or for other renderers. */
  blender?: BlenderCaps;
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
