/**
 * Server-Sent Events as the WHATWG spec reads them: lines end in LF, CR or CRLF; a blank line
 * ends an event; `data:` lines join with LF; a leading space after the colon is dropped; lines
 * starting with `:` are comments.
 */
export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private id: string | undefined;

  /** Feeds decoded text; returns the events it completed. */
  push(text: string): SseEvent[] {
    this.buffer += text;
    const events: SseEvent[] = [];
    let match: RegExpExecArray | null;
    const lineEnd = /\r\n|\n|\r/g;
    let start = 0;
    while ((match = lineEnd.exec(this.buffer))) {
      // A CR at the very end may be the first half of a CRLF: wait for the next chunk.
      if (match[0] === '\r' && match.index === this.buffer.length - 1) break;
      const event = this.line(this.buffer.slice(start, match.index));
      if (event) events.push(event);
      start = match.index + match[0].length;
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  /** At the end of the stream: a last CR ends its line after all. */
  end(): SseEvent[] {
    if (!this.buffer.endsWith('\r')) return [];
    const event = this.line(this.buffer.slice(0, -1));
    this.buffer = '';
    return event ? [event] : [];
  }

  private line(line: string): SseEvent | null {
    if (line === '') {
      if (this.data.length === 0) {
        this.event = '';
        return null;
      }
      const done: SseEvent = { event: this.event || 'message', data: this.data.join('\n'), ...(this.id !== undefined && { id: this.id }) };
      this.event = '';
      this.data = [];
      return done;
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.id = value;
    return null;
  }
}

/** The events of a response body, in order, until it ends. */
export async function* readSse(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseEvent> {
  const parser = new SseParser();
  const decoder = new TextDecoder();
  for await (const chunk of body) yield* parser.push(decoder.decode(chunk, { stream: true }));
  // What is left is an event without its closing blank line: incomplete, and dropped, as the spec says.
  yield* parser.push(decoder.decode());
  yield* parser.end();
}
