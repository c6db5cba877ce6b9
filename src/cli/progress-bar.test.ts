import { describe, expect, it } from 'vitest';
import { formatElapsed, progressLine, ProgressView } from './progress-bar.js';

describe('the progress line', () => {
  it('draws the bar, the percentage, the status and the clock', () => {
    expect(progressLine({ status: 'running', progress: 0.52, elapsedSeconds: 12.7 }, 10)).toBe('[#####-----] 52% running 00:12');
    expect(progressLine({ status: 'queued', progress: 0, elapsedSeconds: 0 }, 4)).toBe('[----] 0% queued 00:00');
    expect(progressLine({ status: 'succeeded', progress: 1.2, elapsedSeconds: 61 }, 4)).toBe('[####] 100% succeeded 01:01');
    expect(formatElapsed(3725)).toBe('1:02:05');
    expect(formatElapsed(-3)).toBe('00:00');
  });
});

function sink(isTTY: boolean) {
  const written: string[] = [];
  return { written, out: { isTTY, columns: 80, write: (t: string) => written.push(t) } };
}

describe('ProgressView', () => {
  it('off a terminal: a plain line when the status changes or the progress passes a tenth', () => {
    const { written, out } = sink(false);
    const view = new ProgressView(out, () => 5);
    view.update('queued', 0);
    view.update('running', 0.01);
    view.update('running', 0.05);
    view.update('running', 0.12);
    view.update('running', 0.13);
    view.print('a log line');
    view.update('succeeded', 1);
    view.finish();
    expect(written.join('')).toBe('0% queued 00:05\n1% running 00:05\n12% running 00:05\na log line\n100% succeeded 00:05\n');
  });

  it('on a terminal: one line redrawn in place, log lines above it', () => {
    const { written, out } = sink(true);
    const view = new ProgressView(out, () => 12);
    view.update('running', 0.5);
    view.print('a log line');
    view.update('succeeded', 1);
    view.finish();
    view.print('after the end');
    const bar = (filled: number) => `[${'#'.repeat(filled)}${'-'.repeat(30 - filled)}]`;
    expect(written).toEqual([
      `\r\x1b[2K${bar(15)} 50% running 00:12`,
      '\r\x1b[2K',
      'a log line\n',
      `\r\x1b[2K${bar(15)} 50% running 00:12`,
      `\r\x1b[2K${bar(30)} 100% succeeded 00:12`,
      '\n',
      'after the end\n',
    ]);
  });
});
