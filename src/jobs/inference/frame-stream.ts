/**
 * The two stream pieces of video-to-video inference: cutting a byte stream into fixed-size frames,
 * and running an async function over a stream with a few calls at once but the results in order.
 * Both pull only as their consumer pulls, so backpressure reaches ffmpeg's pipes.
 */
import type { Readable } from 'node:stream';

/**
 * Yields each `frameBytes` of the stream as one Buffer. Stopping early (return/throw from the
 * consumer) destroys the stream. A stream that ends inside a frame throws: the bytes no longer say
 * where frames begin.
 */
export async function* readFrames(stream: Readable, frameBytes: number): AsyncGenerator<Buffer> {
  if (!(frameBytes > 0)) throw new Error(`a frame must have some bytes (got ${frameBytes})`);
  let frame = Buffer.allocUnsafe(frameBytes);
  let filled = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let at = 0;
    while (at < chunk.length) {
      const n = Math.min(frameBytes - filled, chunk.length - at);
      chunk.copy(frame, filled, at, at + n);
      filled += n;
      at += n;
      if (filled === frameBytes) {
        yield frame;
        frame = Buffer.allocUnsafe(frameBytes); // the one yielded now belongs to the consumer
        filled = 0;
      }
    }
  }
  if (filled > 0) throw new Error(`the frame stream ended ${filled} bytes into a ${frameBytes}-byte frame`);
}

/**
 * `fn` over each item, with up to `limit` calls running at once, yielding results in input order.
 * At most `limit` items are held (pulled but not yet yielded). The first rejection (in input order)
 * is thrown; calls still running then finish unobserved.
 */
export async function* mapOrdered<T, R>(source: AsyncIterable<T>, limit: number, fn: (item: T, index: number) => Promise<R>): AsyncGenerator<R> {
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`limit must be a whole number of at least 1 (got ${limit})`);
  const items = source[Symbol.asyncIterator]();
  const running: Array<Promise<R>> = [];
  let index = 0;
  let exhausted = false;
  try {
    for (;;) {
      while (!exhausted && running.length < limit) {
        const next = await items.next();
        if (next.done) {
          exhausted = true;
          break;
        }
        const call = fn(next.value, index++);
        call.catch(() => {}); // observed when its turn comes; this only keeps an early rejection from being "unhandled"
        running.push(call);
      }
      const head = running.shift();
      if (head === undefined) return;
      yield await head;
    }
  } finally {
    if (!exhausted) await items.return?.();
  }
}
