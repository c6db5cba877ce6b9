/**
 * API request metrics for `/metrics`, kept in the API process: requests by method, route pattern
 * (`/v1/jobs/:id`, never the id itself, so the series stay few) and status, and their durations
 * as a histogram in seconds.
 */
export const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

interface Series {
  count: number;
  sum: number;
  buckets: number[];
}

export class RequestMetrics {
  private readonly series = new Map<string, Series>();

  observe(method: string, route: string, status: number, seconds: number): void {
    const key = JSON.stringify([method, route, String(status)]);
    const s = this.series.get(key) ?? { count: 0, sum: 0, buckets: REQUEST_BUCKETS.map(() => 0) };
    s.count++;
    s.sum += seconds;
    REQUEST_BUCKETS.forEach((b, i) => {
      if (seconds <= b) s.buckets[i]!++;
    });
    this.series.set(key, s);
  }

  /** Prometheus text: a counter and a histogram. */
  render(): string {
    const out = ['# HELP malan_http_requests_total API requests, by method, route and status.', '# TYPE malan_http_requests_total counter'];
    const hist = ['# HELP malan_http_request_duration_seconds API request durations.', '# TYPE malan_http_request_duration_seconds histogram'];
    for (const [key, s] of this.series) {
      const [method, route, status] = JSON.parse(key) as [string, string, string];
      const labels = `method="${method}",route="${escape(route)}",status="${status}"`;
      out.push(`malan_http_requests_total{${labels}} ${s.count}`);
      REQUEST_BUCKETS.forEach((b, i) => hist.push(`malan_http_request_duration_seconds_bucket{${labels},le="${b}"} ${s.buckets[i]}`));
      hist.push(`malan_http_request_duration_seconds_bucket{${labels},le="+Inf"} ${s.count}`);
      hist.push(`malan_http_request_duration_seconds_sum{${labels}} ${round(s.sum)}`, `malan_http_request_duration_seconds_count{${labels}} ${s.count}`);
    }
    return `${[...out, ...hist].join('\n')}\n`;
  }
}

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const round = (n: number) => Math.round(n * 1e6) / 1e6;
