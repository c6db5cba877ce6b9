/**
 * Building the page: every value from the farm goes into the DOM as text (textContent, attribute
 * values), never as HTML, so a job name or a log line cannot become markup. There is no innerHTML
 * in the console.
 */
type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | ((e: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (k === 'class') el.className = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
}

export function clear(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A link inside the console (hash routes), safe for any id. */
export function link(route: string, ...children: Child[]): HTMLAnchorElement {
  return h('a', { href: `#${route}` }, ...children);
}

export function seconds(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '–';
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 120) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

export function since(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '–';
  const s = (now - Date.parse(iso)) / 1000;
  if (s < 5) return 'just now';
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return new Date(iso).toISOString().slice(0, 10);
}

export function percent(v: number | null | undefined): string {
  return v === null || v === undefined ? '–' : `${Math.round(v)}%`;
}

/** A progress bar that is also readable as text (and by tests): the value sits in data-progress. */
export function progressBar(fraction: number): HTMLElement {
  const p = Math.max(0, Math.min(1, fraction));
  const bar = h('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': Math.round(p * 100), 'data-progress': p.toFixed(4) });
  const fill = h('div', { class: 'fill' });
  fill.style.width = `${(p * 100).toFixed(1)}%`;
  bar.append(fill);
  return h('div', { class: 'progress' }, bar, h('span', { class: 'num' }, `${Math.floor(p * 100)}%`));
}

export function badge(text: string, tone = text): HTMLElement {
  return h('span', { class: `badge ${tone.replace(/[^a-z_-]/gi, '')}` }, text);
}

/** A meter (VRAM, utilisation) drawn as a bar with its reading beside it. */
export function meter(fraction: number | null, label: string): HTMLElement {
  const bar = h('div', { class: 'meter' });
  const fill = h('div', { class: 'fill' });
  fill.style.width = `${Math.max(0, Math.min(1, fraction ?? 0)) * 100}%`;
  if ((fraction ?? 0) > 0.9) fill.classList.add('hot');
  bar.append(fill);
  return h('div', { class: 'meter-row' }, bar, h('span', {}, label));
}
