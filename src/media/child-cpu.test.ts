import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { observeChild } from './child-cpu.js';

/** A node child that burns CPU for `ms`, then prints its own user + system seconds (start-up included). */
function busy(ms: number) {
  const child = spawn(process.execPath, ['-e', `const end = Date.now() + ${ms}; while (Date.now() < end) {} const u = process.cpuUsage(); console.log((u.user + u.system) / 1e6)`]);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const own = new Promise<number>((resolve) => child.on('close', () => resolve(Number(out.trim()))));
  return { child, own };
}

describe('observeChild', () => {
  it('gives the CPU time the kernel charged a child, start-up and exit included', async () => {
    const { child, own } = busy(400);
    const counted = await observeChild(child);
    const reported = await own;
    expect(counted).not.toBeNull();
    // The kernel counts all the child's own count does, in 10 ms ticks, plus its exit.
    expect(counted!).toBeGreaterThanOrEqual(reported - 0.02);
    expect(counted!).toBeLessThan(reported + 0.1);
  });

  it('shares a batch of exits in proportion to the children\'s own figures, and loses nothing', async () => {
    const a = busy(300);
    const b = busy(300);
    const [ca, cb] = await Promise.all([observeChild(a.child, () => 1), observeChild(b.child, () => 1)]);
    const [ra, rb] = await Promise.all([a.own, b.own]);
    expect(ca! + cb!).toBeGreaterThanOrEqual(ra + rb - 0.03);
    expect(ca! + cb!).toBeLessThan(ra + rb + 0.2);
  });

  it('charges nothing to a command that never started', async () => {
    const child = spawn('/nonexistent/malan-no-such-binary');
    child.on('error', () => {});
    expect(await observeChild(child)).toBe(0);
  });
});
