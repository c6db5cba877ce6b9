import { describe, expect, it } from 'vitest';
import { parseRange } from './http-range.js';

describe('parseRange', () => {
  it('gives null (the whole file) without a header', () => {
    expect(parseRange(undefined, 100)).toBeNull();
    expect(parseRange('', 100)).toBeNull();
  });

  it('reads a closed range, ends inclusive', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange('bytes=99-99', 100)).toEqual({ start: 99, end: 99 });
  });

  it('reads an open range to the end of the file', () => {
    expect(parseRange('bytes=10-', 100)).toEqual({ start: 10, end: 99 });
  });

  it('reads a suffix range as the last bytes, the whole file when it asks for more', () => {
    expect(parseRange('bytes=-5', 100)).toEqual({ start: 95, end: 99 });
    expect(parseRange('bytes=-500', 100)).toEqual({ start: 0, end: 99 });
  });

  it('clamps an end past the size', () => {
    expect(parseRange('bytes=50-1000', 100)).toEqual({ start: 50, end: 99 });
  });

  it('refuses a start at or past the size', () => {
    expect(parseRange('bytes=100-', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=150-200', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=0-', 0)).toBe('unsatisfiable');
  });

  it('refuses an empty suffix', () => {
    expect(parseRange('bytes=-0', 100)).toBe('unsatisfiable');
  });

  it('serves an empty file whole for a suffix range instead of a range that ends before it starts', () => {
    // RFC 9110 §14.1.1: a non-zero suffix on a zero-length representation is satisfiable, but there
    // are no bytes to name in a Content-Range; the answer is the whole (empty) file.
    expect(parseRange('bytes=-5', 0)).toBeNull();
  });

  it('ignores malformed and multi-range headers (the whole file)', () => {
    for (const header of ['bytes=', 'bytes=-', 'bytes=a-b', 'bytes 0-9', 'items=0-9', 'bytes=0-9,20-29', 'bytes=0-9, 20-29', 'bytes=1.5-2']) {
      expect(parseRange(header, 100), header).toBeNull();
    }
  });

  it('tolerates spaces around the header value', () => {
    expect(parseRange('  bytes=0-9 ', 100)).toEqual({ start: 0, end: 9 });
  });
});
