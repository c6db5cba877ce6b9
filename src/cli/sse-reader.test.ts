import { describe, expect, it } from 'vitest';
import { readSse, SseParser } from './sse-reader.js';

describe('SseParser', () => {
  it('reads events split anywhere across chunks, with LF, CRLF or CR line ends', () => {
    const text = 'event: status\ndata: {"status":"running"}\nid: 1\n\n: a comment\r\nevent:progress\r\ndata:{"progress":0.5}\r\n\r\ndata: a\rdata: b\r\r';
    for (let size = 1; size <= text.length; size++) {
      const parser = new SseParser();
      const events = [];
      for (let i = 0; i < text.length; i += size) events.push(...parser.push(text.slice(i, i + size)));
      events.push(...parser.end());
      expect(events, `chunks of ${size}`).toEqual([
        { event: 'status', data: '{"status":"running"}', id: '1' },
        { event: 'progress', data: '{"progress":0.5}', id: '1' },
        { event: 'message', data: 'a\nb', id: '1' },
      ]);
    }
  });

  it('drops an event the stream ends in the middle of', async () => {
    const body = (async function* () {
      yield new TextEncoder().encode('event: ping\ndata: {}\n\nevent: done\ndata: {"id"');
    })();
    const events = [];
    for await (const e of readSse(body)) events.push(e);
    expect(events).toEqual([{ event: 'ping', data: '{}' }]);
  });
});
