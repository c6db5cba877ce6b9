/** What every screen gets: where to draw, who is signed in, the route's parameters, and a signal that ends it. */
import type { Me } from './types.js';

export interface ViewContext {
  root: HTMLElement;
  me: Me;
  params: URLSearchParams;
  /** Aborted when the operator leaves the screen: streams and timers stop with it. */
  signal: AbortSignal;
  /** Shows the stream's state in the header (live, reconnecting). */
  setLive(state: 'live' | 'reconnecting' | 'ended'): void;
  toast(message: string, tone?: 'error' | 'ok'): void;
}

export type View = (ctx: ViewContext, id?: string) => void;
