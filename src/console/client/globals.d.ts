// The page loads uPlot and hls.js as classic scripts before the console's modules (see index.html).
declare const uPlot: typeof import('uplot').default;
declare const Hls: typeof import('hls.js').default;
