/**
 * A job's outputs as a person wants to see them: an HLS ladder in a player, a video in a video
 * element, images as previews (a render's frames as a grid), everything else as a download.
 */
import { download } from './api.js';
import { h } from './dom.js';
import type { JobOutput } from './types.js';

const IMAGE = /\.(png|jpe?g|webp|gif|avif|exr|tiff?)$/i;
const BROWSER_IMAGE = /\.(png|jpe?g|webp|gif|avif)$/i;

export function outputsPanel(outputs: JobOutput[], signal: AbortSignal): HTMLElement {
  const panel = h('section', { class: 'panel outputs' }, h('h2', {}, `Outputs (${outputs.length})`));
  const master = outputs.find((o) => o.name?.endsWith('.m3u8') && /master|index|main/.test(o.name)) ?? outputs.find((o) => o.name?.endsWith('.m3u8'));
  if (master) panel.append(hlsPlayer(master, signal));
  const mp4 = !master && outputs.find((o) => /\.(mp4|webm|mov)$/i.test(o.name ?? ''));
  if (mp4) panel.append(h('video', { class: 'player', controls: true, muted: true, playsinline: true, preload: 'metadata', src: mp4.playback_url ?? mp4.url }));
  const images = outputs.filter((o) => IMAGE.test(o.name ?? '') || o.content_type?.startsWith('image/'));
  if (images.length) {
    const grid = h('div', { class: images.length > 1 ? 'frame-grid' : 'preview', 'data-images': images.length });
    for (const o of images.slice(0, 60)) grid.append(imageTile(o, signal));
    if (images.length > 60) grid.append(h('p', { class: 'muted' }, `and ${images.length - 60} more`));
    panel.append(grid);
  }
  const list = h('ul', { class: 'files' });
  for (const o of outputs) {
    const name = o.name ?? o.file;
    list.append(h('li', {}, h('button', { class: 'link', onclick: () => void download(o.url, name.split('/').pop()!) }, name), o.size !== undefined && h('span', { class: 'muted' }, ` ${bytes(o.size)}`)));
  }
  panel.append(list);
  return panel;
}

function hlsPlayer(master: JobOutput, signal: AbortSignal): HTMLElement {
  const video = h('video', { class: 'player', controls: true, muted: true, playsinline: true, 'data-player': 'hls' });
  const state = h('div', { class: 'muted player-state' }, 'loading the ladder…');
  // A signed playback URL needs no key; before it exists (a running job) hls.js sends the key.
  const url = master.playback_url ?? master.url;
  if (Hls.isSupported()) {
    const key = sessionStorage.getItem('malan.key');
    const hls = new Hls(master.playback_url ? {} : { xhrSetup: (xhr) => void (key && xhr.setRequestHeader('Authorization', `Bearer ${key}`)) });
    hls.on(Hls.Events.MANIFEST_PARSED, (_e, d) => {
      state.textContent = `${d.levels.length} renditions: ${d.levels.map((l) => `${l.height}p`).join(', ')}`;
      void video.play().catch(() => undefined);
    });
    hls.on(Hls.Events.ERROR, (_e, d) => {
      if (d.fatal) state.textContent = `cannot play: ${d.details}`;
    });
    hls.loadSource(url);
    hls.attachMedia(video);
    signal.addEventListener('abort', () => hls.destroy());
  } else {
    video.src = url; // Safari plays HLS itself
  }
  return h('div', { class: 'player-box' }, video, state);
}

function imageTile(o: JobOutput, signal: AbortSignal): HTMLElement {
  const name = o.name ?? o.file;
  const img = h('img', { alt: name, loading: 'lazy', title: name });
  if (!BROWSER_IMAGE.test(name) && !o.content_type?.match(/image\/(png|jpeg|webp|gif|avif)/)) return h('figure', {}, h('div', { class: 'noimg' }, 'no preview'), h('figcaption', {}, name));
  if (o.playback_url) img.src = o.playback_url;
  else void blobUrl(o.url, signal).then((u) => u && (img.src = u));
  return h('figure', {}, img, h('figcaption', {}, name.split('/').pop()!));
}

async function blobUrl(url: string, signal: AbortSignal): Promise<string | null> {
  try {
    const res = await fetch(url, { headers: { Authorization: `Bearer ${sessionStorage.getItem('malan.key') ?? ''}` }, signal });
    if (!res.ok) return null;
    const u = URL.createObjectURL(await res.blob());
    signal.addEventListener('abort', () => URL.revokeObjectURL(u));
    return u;
  } catch {
    return null;
  }
}

function bytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : n < 1024 ** 3 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
