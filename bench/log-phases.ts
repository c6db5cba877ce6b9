/**
 * Where a farm transcode's worker-side time went, read from the job's own log: each line carries
 * the worker's timestamp (ms), and run.ts logs a line at each step. The ffmpeg phase ends at
 * ffmpeg's last stderr line, so it is a slight underestimate of the process's life.
 */
export interface Phases {
  /** started_at → the "attempt N started" log line: sending the attempt-started report, workdir. */
  setup: number;
  /** → "fetched the source over HTTP" or "reading the source in place": getting the input. */
  download: number;
  /** → "source: …": ffprobe of the source. */
  probe: number;
  /** → "path cpu: …": planning. */
  plan: number;
  /** → ffmpeg's last stderr line. */
  ffmpeg: number;
  /** → "stored the output": ffprobe verification of the output and the HTTP upload. */
  verifyUpload: number;
  /** → completed_at: draining the log reports, stamping the end. */
  finish: number;
}

interface Line {
  t: number;
  attempt: number;
  msg: string;
}

export function logPhases(text: string, startedAt: number, completedAt: number): Phases | null {
  const all: Line[] = [];
  for (const raw of text.split('\n')) {
    const m = /^(\S+) attempt=(\d+) \S+\s+(.*)$/.exec(raw);
    if (m) all.push({ t: Date.parse(m[1]!), attempt: Number(m[2]), msg: m[3]! });
  }
  const attempt = Math.max(0, ...all.map((l) => l.attempt));
  const lines = all.filter((l) => l.attempt === attempt);
  const at = (test: (msg: string) => boolean) => lines.findIndex((l) => test(l.msg));
  const iStart = at((m) => /^attempt \d+ started on worker/.test(m));
  const iFetched = at((m) => m.startsWith('fetched the source') || m.startsWith('reading the source in place'));
  const iProbed = at((m) => m.startsWith('source: '));
  const iPath = at((m) => /^path [a-z-]+: /.test(m));
  const iStored = at((m) => m.startsWith('stored the output') || /^stored \d+ files/.test(m));
  if ([iStart, iFetched, iProbed, iPath, iStored].some((i) => i < 0) || iStored <= iPath + 1) return null;
  const t = (i: number) => lines[i]!.t;
  const ffmpegEnd = t(iStored - 1);
  const s = (a: number, b: number) => Math.round(b - a) / 1000;
  return {
    setup: s(startedAt, t(iStart)),
    download: s(t(iStart), t(iFetched)),
    probe: s(t(iFetched), t(iProbed)),
    plan: s(t(iProbed), t(iPath)),
    ffmpeg: s(t(iPath), ffmpegEnd),
    verifyUpload: s(ffmpegEnd, t(iStored)),
    finish: s(t(iStored), completedAt),
  };
}
