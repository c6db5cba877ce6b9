/** What every door that starts a child process shares: reading its output by lines, and stopping it. */
import type { Readable } from 'node:stream';

/** Calls onLine for each line of a text stream (ffmpeg ends its status lines with \r); settles when it ends. */
export function readLines(stream: Readable, onLine: (line: string) => void): Promise<void> {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (rest + chunk).split(/\r\n|\r|\n/);
    rest = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
  return new Promise((resolve) => {
    stream.once('close', () => {
      if (rest) onLine(rest);
      resolve();
    });
  });
}

/** Wires the signal to SIGTERM, then SIGKILL after the grace; returns the cleanup to call once the process has ended. */
export function killOnAbort(opts: { signal?: AbortSignal; killGraceMs?: number }, kill: (signal: NodeJS.Signals) => void): () => void {
  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    kill('SIGTERM');
    killTimer = setTimeout(() => kill('SIGKILL'), opts.killGraceMs ?? 5000);
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  return () => {
    opts.signal?.removeEventListener('abort', onAbort);
    if (killTimer) clearTimeout(killTimer);
  };
}
