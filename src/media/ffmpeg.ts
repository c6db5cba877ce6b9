/**
 * The one door to ffmpeg and ffprobe: the only module that spawns them. ffmpeg runs through
 * fluent-ffmpeg (archived upstream, so nothing else may touch it); ffprobe is run directly for
 * its JSON output. Every run takes an AbortSignal: abort sends SIGTERM, then SIGKILL after a grace.
 */
import { execFile } from 'node:child_process';
import ffmpeg from 'fluent-ffmpeg';
import { inputHardeningArgs } from './input-hardening.js';
import type { MediaProbe } from './media-probe.js';
import { parseFfprobeJson } from './parse-ffprobe.js';
import { parseBenchLine, ProgressParser, type FfmpegProgress } from './ffmpeg-output.js';

export interface FfmpegRunOptions {
  signal?: AbortSignal;
  killGraceMs?: number;
  ffmpegPath?: string;
  onProgress?: (p: FfmpegProgress) => void;
  /** Each line ffmpeg writes to stderr (its log), as it comes. */
  onLog?: (line: string) => void;
  /** Called with the child's pid once it is spawned. */
  onSpawn?: (pid: number) => void;
}

export interface FfmpegRunResult {
  wallSeconds: number;
  /** User + system CPU time of the ffmpeg process, from its own `-benchmark` report. */
  cpuSeconds: number;
}

export class FfmpegError extends Error {
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
  let cpuSeconds = 0;
  const tail: string[] = [];
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
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      command.kill('SIGTERM');
      killTimer = setTimeout(() => command.kill('SIGKILL'), opts.killGraceMs ?? 5000);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = () => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
    };
    command.on('start', () => {
      const proc = (command as unknown as { ffmpegProc?: import('node:child_process').ChildProcess }).ffmpegProc;
      if (proc?.pid) opts.onSpawn?.(proc.pid);
      // `-progress pipe:1` writes key=value blocks on stdout; fluent-ffmpeg leaves stdout to us.
      proc?.stdout?.setEncoding('utf8');
      proc?.stdout?.on('data', (chunk: string) => {
        for (const p of progress.push(chunk)) opts.onProgress?.(p);
      });
    });
    command.on('stderr', (line: string) => {
      const bench = parseBenchLine(line);
      if (bench !== null) {
        cpuSeconds = bench;
        return;
      }
      if (line.includes('bench: maxrss') || line.trim() === '') return;
      tail.push(line);
      if (tail.length > 20) tail.shift();
      opts.onLog?.(line);
    });
    command.on('end', () => {
      finish();
      resolve({ wallSeconds: (performance.now() - started) / 1000, cpuSeconds });
    });
    command.on('error', (err: Error) => {
      finish();
      const aborted = opts.signal?.aborted ?? false;
      // At `-loglevel level+info` fluent-ffmpeg's message holds no reason (it skips "[…]" lines): take ffmpeg's own last error.
      const errorLine = [...tail].reverse().find((l) => /\[(error|fatal|panic)\]/.test(l))?.replace(/ @ 0x[0-9a-f]+/, '');
      reject(new FfmpegError(aborted ? 'ffmpeg was stopped' : (errorLine ?? firstLine(err.message)), tail.slice(), aborted));
    });
    command.run();
  });
}

/** fluent-ffmpeg only keeps tokens whole when given two or more arguments. */
function asArguments(tokens: string[]): string[] {
  if (tokens.length === 1 && tokens[0]!.includes(' ')) throw new Error(`an ffmpeg option cannot stand alone with a space in it: ${tokens[0]}`);
  return tokens;
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

export class ProbeError extends Error {}

/** ffprobe with the input hardening flags: a playlist or concat file cannot make it read anything else. */
export function probeMedia(file: string, opts: { signal?: AbortSignal; ffprobePath?: string } = {}): Promise<MediaProbe> {
  const args = ['-v', 'error', ...inputHardeningArgs(), '-of', 'json', '-show_format', '-show_streams', '-i', file];
  return new Promise((resolve, reject) => {
    execFile(opts.ffprobePath ?? 'ffprobe', args, { signal: opts.signal, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const reason = stderr.trim().split('\n').pop() || err.message;
        return reject(new ProbeError(reason.replace(file, 'the file')));
      }
      try {
        resolve(parseFfprobeJson(JSON.parse(stdout)));
      } catch (e) {
        reject(new ProbeError(`ffprobe output could not be read: ${(e as Error).message}`));
      }
    });
  });
}
