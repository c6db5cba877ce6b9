/**
 * Time charts on uPlot (small, fast, well kept). Colours come from the theme's CSS variables, so
 * a chart redrawn after a theme switch matches the page.
 */
import { h } from './dom.js';

export interface Series {
  label: string;
  /** A CSS variable holding the colour, e.g. --ok. */
  colour: string;
}

type Plot = InstanceType<typeof uPlot>;
type AlignedData = ConstructorParameters<typeof uPlot>[1];

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

/** A chart in `host`: x is unix seconds; call `update` with new columns as data arrives. */
export function timeChart(host: HTMLElement, title: string, series: Series[], opts: { bars?: boolean; unit?: string } = {}) {
  const box = h('figure', { class: 'chart', 'data-chart': title });
  host.append(box);
  let plot: Plot | null = null;
  let last: number[][] = [[], ...series.map(() => [])];
  const make = () => {
    plot?.destroy();
    const width = Math.max(280, box.clientWidth || host.clientWidth || 600);
    const axis = { stroke: cssVar('--muted'), grid: { stroke: cssVar('--grid'), width: 1 }, ticks: { stroke: cssVar('--grid') } };
    plot = new uPlot(
      {
        title,
        width,
        height: 220,
        series: [
          {},
          ...series.map((s) => ({
            label: s.label,
            stroke: cssVar(s.colour),
            fill: `${cssVar(s.colour)}33`,
            width: 2,
            ...(opts.bars && { paths: uPlot.paths.bars!({ size: [0.7, 40] }), points: { show: false } }),
            value: (_u: Plot, v: number | null) => (v === null ? '–' : `${v}${opts.unit ?? ''}`),
          })),
        ],
        axes: [axis, { ...axis, size: 50 }],
        scales: { x: { time: true } },
        legend: { live: true },
      },
      last as AlignedData,
      box,
    );
  };
  make();
  const onTheme = () => make();
  document.addEventListener('themechange', onTheme);
  return {
    update(columns: number[][]) {
      last = columns;
      plot?.setData(columns as AlignedData);
      box.dataset.points = String(columns[0]?.length ?? 0);
    },
    destroy() {
      document.removeEventListener('themechange', onTheme);
      plot?.destroy();
    },
  };
}
