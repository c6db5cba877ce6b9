/**
 * The operator console at `/console`: one static page and its scripts, with no data in them; the
 * page signs in with an API key and reads everything through `/v1` like any client, so a tenant's
 * key shows that tenant's work only. A strict Content-Security-Policy (no inline script, nothing
 * from other origins) backs up the page's own rule of never putting data into HTML.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Hono } from 'hono';
import { ApiError } from '../api-error.js';
import { packageRoot } from '../../paths.js';

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  // hls.js demuxes in a worker it starts from a blob URL.
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

/** What the page may load: its own files (compiled scripts, styles) and three vendored libraries. */
function assetTable(): Map<string, string> {
  const table = new Map<string, string>();
  const add = (dir: string) => {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      return; // not built yet: the page says so below
    }
    for (const n of names) if (/^[a-z0-9-]+\.(js|css|svg)$/.test(n)) table.set(n, path.join(dir, n));
  };
  add(path.join(packageRoot, 'src/console/public'));
  add(path.join(packageRoot, 'dist/web/console/client'));
  const vendor = path.join(packageRoot, 'node_modules');
  table.set('uplot.js', path.join(vendor, 'uplot/dist/uPlot.iife.min.js'));
  table.set('uplot.css', path.join(vendor, 'uplot/dist/uPlot.min.css'));
  table.set('hls.js', path.join(vendor, 'hls.js/dist/hls.min.js'));
  return table;
}

export function consoleApi() {
  const assets = assetTable();
  const cache = new Map<string, Buffer>();
  const read = (file: string) => cache.get(file) ?? cache.set(file, readFileSync(file)).get(file)!;
  const secure = (c: { header: (k: string, v: string) => void }) => {
    c.header('Content-Security-Policy', CSP);
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'no-referrer');
    c.header('X-Frame-Options', 'DENY');
  };
  return new Hono()
    .get('/', (c) => {
      if (!assets.has('main.js')) throw new ApiError('unavailable', 'the console is not built: run `npm run build`');
      secure(c);
      c.header('Cache-Control', 'no-cache');
      return c.body(new Uint8Array(read(path.join(packageRoot, 'src/console/public/index.html'))), 200, { 'Content-Type': TYPES['.html']! });
    })
    .get('/assets/:name', (c) => {
      const file = assets.get(c.req.param('name'));
      if (!file) throw new ApiError('not_found', `the console has no asset ${c.req.param('name').slice(0, 80)}`);
      secure(c);
      c.header('Cache-Control', 'no-cache');
      return c.body(new Uint8Array(read(file)), 200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    });
}
