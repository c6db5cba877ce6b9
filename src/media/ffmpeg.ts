/**
 * The one door to ffmpeg and ffprobe: the only module that spawns them. ffmpeg runs through
 * fluent-ffmpeg (archived upstream, so nothing else may touch it), except when its stdin and
 * stdout carry data (spawnFfmpegPipe, see there); ffprobe is run directly for its JSON output.
 * Every run takes an AbortSignal: abort sends SIGTERM, then SIGKILL after a grace.
 */
import { execFile, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import ffmpeg from 'fluent-ffmpeg';
import { inputHardeningArgs } from './input-hardening.js';
import type { MediaProbe } from './media-probe.js';
import { parseSegmentProbe, type SegmentProbe } from './segment-probe.js';
import { parseFfprobeJson } from './parse-ffprobe.js';
import { parseBenchLine, ProgressParser, type FfmpegProgress } from './ffmpeg-output.js';
import { observeChild } from './child-cpu.js';
import { killOnAbort, readLines } from './child-io.js';

export interface FfmpegRunOptions {
  signal?: AbortSignal;
  killGraceMs?: number;
  ffmpegPath?: string;
  onProgress?: (p: FfmpegProgress) => void;
  /** Each line ffmpeg writes to stderr (its log), as it comes. */
  onLog?: (line: string) => void;
  /** Called with the child's pid once it is spawned. */
  onSpawn?: (pid: number) => void;
  /** The run works on a GPU: its wall time is metered as GPU time. */
  onGpu?: boolean;
}

export interface FfmpegRunResult {
  wallSeconds: number;
  /**
   * User + system CPU time of the ffmpeg process as the kernel counted it (child-cpu.ts); its own
   * `-benchmark` figure, which leaves out start-up and exit, only where there is no /proc.
   */
  cpuSeconds: number;
}

export class FfmpegError extends Error {
  /** CPU seconds the failed or stopped run used, where the kernel's count is known. */
  cpuSeconds: number | null = null;
  constructor(
    message: string,
    readonly stderrTail: string[],
    readonly aborted: boolean,
  ) {
    super(message);
  }
}

/**
 * Splits a flat argv (inputs, then the output last) into the shape fluent-ffmpeg builds from:
 * each `-i` with the options before it, then the output's options. ffmpeg reads options
 * positionally, so this keeps every token where the plan put it.
 */
export function splitArgv(args: readonly string[]) {
  const inputs: Array<{ options: string[]; input: string }> = [];
  let from = 0;
  for (let i = 0; i < args.length; i++) {
    if (args[i] !== '-i') continue;
    if (i + 1 >= args.length - 1) break;
    inputs.push({ options: args.slice(from, i), input: args[i + 1]! });
    from = i + 2;
    i++;
  }
  if (inputs.length === 0) throw new Error('an ffmpeg command needs an -i input and an output');
  return { inputs, outputOptions: args.slice(from, -1), output: args[args.length - 1]! };
}

export function runFfmpeg(args: readonly string[], opts: FfmpegRunOptions = {}): Promise<FfmpegRunResult> {
  const parts = splitArgv(args);
  const started = performance.now();
  const log = new StderrLog(opts.onLog);
  const progress = new ProgressParser();
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(new FfmpegError('aborted before start', [], true));
    const command = ffmpeg({ stdoutLines: 20 }); // fluent-ffmpeg keeps this many lines; 0 would mean all of them
    // Options go in as separate arguments: given one array, fluent-ffmpeg splits any element with
    // exactly one space into two ("v:0 v:1" would become two tokens and the second an output).
    // (and called with none at all, it adds the option "undefined").
    for (const { options, input } of parts.inputs) {
      command.input(input);
      if (options.length) command.inputOptions(...asArguments(options));
    }
    if (parts.outputOptions.length) command.outputOptions(...asArguments(parts.outputOptions));
    command.output(parts.output);
    if (opts.ffmpegPath) command.setFfmpegPath(opts.ffmpegPath);
    const finish = killOnAbort(opts, (signal) => command.kill(signal));
    let kernelCpu: Promise<number | null> = Promise.resolve(null);
    command.on('start', () => {
      const proc = (command as unknown as { ffmpegProc?: import('node:child_process').ChildProcess }).ffmpegProc;
      if (proc) kernelCpu = observeChild(proc, () => log.cpuSeconds);
      if (proc?.pid) opts.onSpawn?.(proc.pid);
      // `-progress pipe:1` writes key=value blocks on stdout; fluent-ffmpeg leaves stdout to us.
      proc?.stdout?.setEncoding('utf8');
      proc?.stdout?.on('data', (chunk: string) => {
        for (const p of progress.push(chunk)) opts.onProgress?.(p);
      });
    });
    command.on('stderr', (line: string) => log.push(line));
    command.on('end', () => {
      finish();
      const wallSeconds = (performance.now() - started) / 1000;
      void kernelCpu.then((cpu) => resolve({ wallSeconds, cpuSeconds: cpu ?? log.cpuSeconds }));
    });
    command.on('error', (err: Error) => {
      finish();
      const failure = log.failure(opts.signal?.aborted ?? false, firstLine(err.message));
      void kernelCpu.then((cpu) => reject(Object.assign(failure, { cpuSeconds: cpu })));
    });
    command.run();
  });
}

export interface FfmpegPipe {
  /** What ffmpeg writes to `pipe:1`. Read it (or destroy it): ffmpeg blocks while it is full. */
  stdout: Readable;
  /** What ffmpeg reads from `pipe:0`; end it to end the input. A write after ffmpeg is gone fails, and `done` says why. */
  stdin: Writable;
  /** Settles once ffmpeg has exited and its stderr is read: rejects with FfmpegError as runFfmpeg does. */
  done: Promise<FfmpegRunResult>;
}

/**
 * ffmpeg with its stdin and stdout handed to the caller as streams, for frames that must not touch
 * the disk. Same contract as runFfmpeg: the signal stops it (SIGTERM, then SIGKILL after the
 * grace), stderr goes to onLog, and -benchmark's CPU time is reported. Throws at once if the
 * signal is already aborted. The args are the whole argv; inputs are hardened by whoever builds them.
 *
 * Spawned directly, not through fluent-ffmpeg: fluent-ffmpeg pipes its own streams in and out
 * instead of handing back the process's, and when an output stream closes it gives the process
 * 20 ms to have exited before failing the run with "Output stream closed" and killing it, a
 * race a slow consumer (a model) or a loaded host loses.
 */
export function spawnFfmpegPipe(args: readonly string[], opts: FfmpegRunOptions = {}): FfmpegPipe {
  if (opts.signal?.aborted) throw new FfmpegError('aborted before start', [], true);
  const started = performance.now();
  const log = new StderrLog(opts.onLog);
  const child = spawn(opts.ffmpegPath ?? 'ffmpeg', [...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const kernelCpu = observeChild(child, () => log.cpuSeconds);
  if (child.pid) opts.onSpawn?.(child.pid);
  // ffmpeg exiting early closes the pipe under a writer (EPIPE); `done` reports why it exited.
  child.stdin.on('error', () => {});
  const finish = killOnAbort(opts, (signal) => child.kill(signal));
  const stderrRead = readLines(child.stderr, (line) => log.push(line));
  const done = new Promise<FfmpegRunResult>((resolve, reject) => {
    child.once('error', (err) => {
      finish();
      reject(log.failure(false, err.message));
    });
    // 'exit', not 'close': 'close' also waits for stdout, which a consumer may have stopped reading.
    child.once('exit', (code, signal) => {
      finish();
      void Promise.all([stderrRead, kernelCpu]).then(([, cpu]) => {
        if (code === 0) return resolve({ wallSeconds: (performance.now() - started) / 1000, cpuSeconds: cpu ?? log.cpuSeconds });
        const how = signal ? `ffmpeg was killed with signal ${signal}` : `ffmpeg exited with code ${code}`;
        reject(log.failure(opts.signal?.aborted ?? false, how));
      });
    });
  });
  return { stdout: child.stdout, stdin: child.stdin, done };
}

/**
 * What every ffmpeg run does with stderr: `-benchmark`'s CPU line is kept as the meter, the rest
 * goes to the log, and the last 20 lines are kept to say why a run failed.
 */
class StderrLog {
  cpuSeconds = 0;
  private readonly tail: string[] = [];

  constructor(private readonly onLog?: (line: string) => void) {}

  push(line: string): void {
    const bench = parseBenchLine(line);
    if (bench !== null) {
      this.cpuSeconds = bench;
      return;
    }
    if (line.includes('bench: maxrss') || line.trim() === '') return;
    this.tail.push(line);
    if (this.tail.length > 20) this.tail.shift();
    this.onLog?.(line);
  }

  /** `fallback` is the reason when ffmpeg logged no error line of its own. */
  failure(aborted: boolean, fallback: string): FfmpegError {
    // At `-loglevel level+info` fluent-ffmpeg's message holds no reason (it skips "[…]" lines): take ffmpeg's own last error.
    const errorLine = [...this.tail].reverse().find((l) => /\[(error|fatal|panic)\]/.test(l))?.replace(/ @ 0x[0-9a-f]+/, '');
    return new FfmpegError(aborted ? 'ffmpeg was stopped' : (errorLine ?? fallback), this.tail.slice(), aborted);
  }
}

/** fluent-ffmpeg only keeps tokens whole when given two or more arguments. */
function asArguments(tokens: string[]): string[] {
  if (tokens.length === 1 && tokens[0]!.includes(' ')) throw new Error(`an ffmpeg option cannot stand alone with a space in it: ${tokens[0]}`);
  return tokens;
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

/**
 * fluent-ffmpeg asks ffmpeg for its formats and encoders before its first run in a process, then
 * keeps the answers. Those two processes are not started through this door, so their CPU time
 * would be counted in the next run's (child-cpu.ts): a worker asks here once at start, before it
 * takes any job.
 */
export function warmUpFfmpeg(): Promise<void> {
  return new Promise((resolve) => ffmpeg.getAvailableFormats(() => ffmpeg.getAvailableEncoders(() => resolve())));
}

export class ProbeError extends Error {}

export interface ProbeOptions {
  signal?: AbortSignal;
  ffprobePath?: string;
  /** Called with the CPU seconds the kernel charged this ffprobe, before the probe settles. */
  onCpu?: (seconds: number) => void;
}

/** ffprobe with the input hardening flags: a playlist or concat file cannot make it read anything else. */
export function probeMedia(file: string, opts: ProbeOptions = {}): Promise<MediaProbe> {
  return runFfprobe(['-show_format', '-show_streams'], file, opts, parseFfprobeJson);
}

/**
 * A live segment as it arrives: what the ladder and the playlists need (size, codec, profile and
 * level for CODECS, where its timeline starts), read quickly from the packet headers.
 */
export function probeSegment(file: string, opts: ProbeOptions = {}): Promise<SegmentProbe> {
  const entries = 'format=start_time,duration,size:stream=codec_type,codec_name,profile,level,width,height,avg_frame_rate';
  return runFfprobe(['-show_entries', entries], file, opts, parseSegmentProbe);
}

async function runFfprobe<T>(show: string[], file: string, opts: ProbeOptions, parse: (raw: unknown) => T): Promise<T> {
  const args = ['-v', 'error', ...inputHardeningArgs(), '-of', 'json', ...show, '-i', file];
  let cpu: Promise<number | null> = Promise.resolve(null);
  const probed = new Promise<T>((resolve, reject) => {
    const child = execFile(opts.ffprobePath ?? 'ffprobe', args, { signal: opts.signal, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const reason = stderr.trim().split('\n').pop() || err.message;
        return reject(new ProbeError(reason.replace(file, 'the file')));
      }
      try {
        resolve(parse(JSON.parse(stdout)));
      } catch (e) {
        reject(new ProbeError(`ffprobe output could not be read: ${(e as Error).message}`));
      }
    });
    // Observed in any case, so that its time is not taken for the next ffmpeg's.
    cpu = observeChild(child);
  });
  try {
    return await probed;
  } finally {
    const seconds = await cpu;
    if (seconds !== null) opts.onCpu?.(seconds);
  }
}
