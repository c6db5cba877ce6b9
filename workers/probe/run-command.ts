/** Runs a probe command and never throws: a missing binary is exit code 127, like a shell says. */
import { execFile } from 'node:child_process';
import { observeChild } from '../../src/media/child-cpu.js';
import type { CommandResult } from './nvidia-smi.js';

export function runCommand(cmd: string, args: string[], timeoutMs = 30_000): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolve({ code: 0, stdout, stderr });
      const e = err as NodeJS.ErrnoException & { code?: string | number };
      resolve({ code: e.code === 'ENOENT' ? 127 : typeof e.code === 'number' ? e.code : 1, stdout: stdout ?? '', stderr: stderr || e.message });
    });
    void observeChild(child); // so its time is not taken for a job's ffmpeg
  });
}
