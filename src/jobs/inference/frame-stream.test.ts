import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { mapOrdered, readFrames } from './frame-stream.js';

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function* numbers(n: number, pulled?: number[]): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) {
    pulled?.push(i);
    yield i;
  }
}

describe('readFrames', () => {
  it('cuts chunks of any size into whole frames', async () => {
    const bytes = Buffer.from(Array.from({ length: 12 }, (_, i) => i));
    const chunks = [bytes.subarray(0, 1), bytes.subarray(1, 7), bytes.subarray(7, 8), bytes.subarray(8, 12)];
    const frames = await collect(readFrames(Readable.from(chunks), 4));
    expect(frames.map((f) => [...f])).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]);
  });

  it('gives each frame its own buffer, so a consumer may keep it', async () => {
    const frames = await collect(readFrames(Readable.from([Buffer.alloc(4, 1), Buffer.alloc(4, 2)]), 4));
    expect(frames.map((f) => f[0])).toEqual([1, 2]);
  });

  it('throws when the stream ends inside a frame', async () => {
    await expect(collect(readFrames(Readable.from([Buffer.alloc(6)]), 4))).rejects.toThrow('the frame stream ended 2 bytes into a 4-byte frame');
  });

  it('destroys the stream when the consumer stops early', async () => {
    const stream = new PassThrough();
    stream.write(Buffer.alloc(8));
    for await (const _frame of readFrames(stream, 4)) break;
    expect(stream.destroyed).toBe(true);
  });
});

describe('mapOrdered', () => {
  it('yields results in input order although later calls finish first', async () => {
    const delays = [30, 5, 20, 0, 10];
    const out = await collect(mapOrdered(numbers(5), 3, async (n) => {
      await new Promise((r) => setTimeout(r, delays[n]));
      return n * 10;
    }));
    expect(out).toEqual([0, 10, 20, 30, 40]);
  });

  it('runs up to `limit` calls at once and never pulls further ahead', async () => {
    let running = 0;
    let most = 0;
    const pulled: number[] = [];
    const gen = mapOrdered(numbers(10, pulled), 3, async (n) => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      return n;
    });
    expect(await gen.next()).toEqual({ value: 0, done: false });
    // Three pulled for the first result; nothing more until the consumer asks again.
    expect(pulled).toEqual([0, 1, 2]);
    await new Promise((r) => setTimeout(r, 30));
    expect(pulled).toEqual([0, 1, 2]);
    expect(await collect(gen)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(most).toBe(3);
  });

  it('throws the first failure in input order, without an unhandled rejection from the others', async () => {
    const gen = mapOrdered(numbers(5), 4, async (n) => {
      if (n === 3) throw new Error('three failed first');
      await new Promise((r) => setTimeout(r, 10));
      if (n === 1) throw new Error('one failed');
      return n;
    });
    await expect(collect(gen)).rejects.toThrow('one failed');
  });

  it('stops pulling its source when the consumer stops', async () => {
    let finished = false;
    async function* source() {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        finished = true;
      }
    }
    for await (const n of mapOrdered(source(), 2, async (x) => x)) if (n === 1) break;
    expect(finished).toBe(true);
  });

  it('refuses a limit below one', async () => {
    await expect(collect(mapOrdered(numbers(1), 0, async (n) => n))).rejects.toThrow('limit must be a whole number of at least 1 (got 0)');
  });
});
