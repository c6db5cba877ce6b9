/**
 * A live channel in hls.js, held close to the live edge, with how far behind the edge it plays.
 * The playback URL is signed, so hls.js needs no key for it.
 */
import { h, seconds } from './dom.js';

/** How long to wait before asking again after the playlist could not be loaded (an API restart). */
const RELOAD_PAUSE_MS = 2000;

export function livePlayer(url: string, signal: AbortSignal): HTMLElement {
  const video = h('video', { class: 'player', controls: true, muted: true, playsinline: true, 'data-player': 'live' });
  const state = h('div', { class: 'muted player-state', 'data-behind-live': '' }, 'loading the channel…');
  const box = h('div', { class: 'player-box' }, video, state);
  if (!Hls.isSupported()) {
    video.src = url; // Safari plays HLS itself
    return box;
  }
  const hls = new Hls({
    // Two segments behind the edge: the farm publishes whole segments, so a player any closer
    // waits on the next one; past six it jumps forward instead of drifting further behind.
    liveSyncDurationCount: 2,
    liveMaxLatencyDurationCount: 6,
  });
  hls.on(Hls.Events.MANIFEST_PARSED, () => void video.play().catch(() => undefined));
  hls.on(Hls.Events.ERROR, (_e, d) => {
    if (!d.fatal) return;
    if (d.type === Hls.ErrorTypes.MEDIA_ERROR) return hls.recoverMediaError();
    state.textContent = `cannot play: ${d.details}${d.type === Hls.ErrorTypes.NETWORK_ERROR ? ', trying again' : ''}`;
    if (d.type === Hls.ErrorTypes.NETWORK_ERROR) setTimeout(() => signal.aborted || hls.startLoad(), RELOAD_PAUSE_MS);
  });
  // hls.js estimates its distance from the live edge (0 until it knows); shown once a second.
  const readout = setInterval(() => {
    if (!hls.latency) return;
    const level = hls.levels[hls.currentLevel];
    state.dataset.behindLive = hls.latency.toFixed(2);
    state.textContent = `${seconds(hls.latency)} behind the live edge (target ${seconds(hls.targetLatency)})${level ? ` · playing ${level.height}p` : ''}`;
  }, 1000);
  hls.loadSource(url);
  hls.attachMedia(video);
  signal.addEventListener('abort', () => {
    clearInterval(readout);
    hls.destroy();
  });
  return box;
}
