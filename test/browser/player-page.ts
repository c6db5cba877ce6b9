/**
 * What a browser test needs beside the farm: Debian's Chromium driven by playwright-core (never a
 * downloaded browser: `npx playwright install` cannot work on these machines), and a page server
 * on its own port, so that every request the player makes to the farm crosses origins (CORS).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { packageRoot } from '../../src/paths.js';

export const CHROMIUM = '/usr/bin/chromium';

/** Debian's Chromium, as node-svc.md runs it; playwright gives each launch a fresh temporary profile (--user-data-dir). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`browser tests need Debian's Chromium at ${CHROMIUM}: install it with \`apt-get install chromium\` (.ci/run does when it is missing)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    // --disable-background-networking and friends: this machine's closed network refuses Chromium's own connections.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * The player: hls.js on a muted inline <video>. The master URL and the key come in the fragment
 * (`#master=…&key=…`), which the browser never sends to a server. `window.player` is what the test reads.
 */
const PLAYER_HTML = `<!doctype html>
<meta charset="utf-8"><title>hls playback</title>
<style>body{margin:0;background:#000}video{width:640px;height:360px;display:block}</style>
<video id="video" muted playsinline></video>
<script src="/hls.min.js"></script>
<script>
  const params = new URLSearchParams(location.hash.slice(1));
  const key = params.get('key');
  const video = document.getElementById('video');
  const player = (window.player = { supported: Hls.isSupported(), parsed: false, switched: [], errors: [], playError: null });
  const hls = (window.hls = new Hls({ xhrSetup: (xhr) => xhr.setRequestHeader('Authorization', 'Bearer ' + key) }));
  hls.on(Hls.Events.ERROR, (_e, d) => player.errors.push({
    type: d.type, details: d.details, fatal: d.fatal, url: d.url || (d.frag && d.frag.url) || (d.context && d.context.url) || null,
    status: (d.response && d.response.code) || null, reason: d.reason || (d.error ? String(d.error) : null),
  }));
  hls.on(Hls.Events.LEVEL_SWITCHED, (_e, d) => player.switched.push(d.level));
  hls.on(Hls.Events.MANIFEST_PARSED, () => {
    player.parsed = true;
    video.play().catch((e) => { player.playError = String(e); });
  });
  hls.loadSource(params.get('master'));
  hls.attachMedia(video);
</script>`;

export interface PageServer {
  origin: string;
  close(): Promise<void>;
}

/** Serves the player page and hls.js on 127.0.0.1 at a free port. */
export async function startPlayerPageServer(): Promise<PageServer> {
  const hlsJs = readFileSync(path.join(packageRoot, 'node_modules/hls.js/dist/hls.min.js'));
  const server = createServer((req, res) => {
    const route = new URL(req.url ?? '/', 'http://page').pathname;
    if (route === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PLAYER_HTML);
    else if (route === '/hls.min.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(hlsJs);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections(); // keep-alive sockets of a browser that is already gone
    }),
  };
}
