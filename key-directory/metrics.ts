// Prometheus text exposition: requests by route/method/status, a latency histogram per route,
// and gauges read from the store at scrape time (log size, identities, prekeys remaining).
// Recording is on the hot path: plain counters keyed by a cheap string; labels are escaped
// only when rendering.
import type { StoreStats } from './store';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

interface Series {
  route: string;
  method: string;
  requests: Map<number, number>;
  buckets: number[];
  sum: number;
  count: number;
}

const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export class Metrics {
  private readonly series = new Map<string, Series>();

  observe(route: string, method: string, status: number, seconds: number): void {
    const key = `${method} ${route}`;
    let s = this.series.get(key);
    if (!s) {
      s = { route, method, requests: new Map(), buckets: BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    s.requests.set(status, (s.requests.get(status) ?? 0) + 1);
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) s.buckets[i]!++;
    s.sum += seconds;
    s.count++;
  }

  render(stats: StoreStats | undefined): string {
    const out: string[] = [];
    const all = [...this.series.values()];
    const labels = (s: Series) => `route="${label(s.route)}",method="${label(s.method)}"`;
    out.push('# HELP veil_http_requests_total HTTP requests by route, method and status.');
    out.push('# TYPE veil_http_requests_total counter');
    for (const s of all)
      for (const [status, n] of s.requests)
        out.push(`veil_http_requests_total{${labels(s)},status="${status}"} ${n}`);
    out.push('# HELP veil_http_request_duration_seconds Time to answer a request.');
    out.push('# TYPE veil_http_request_duration_seconds histogram');
    for (const s of all) {
      BUCKETS.forEach((b, i) =>
        out.push(
          `veil_http_request_duration_seconds_bucket{${labels(s)},le="${b}"} ${s.buckets[i]}`,
        ),
      );
      out.push(`veil_http_request_duration_seconds_bucket{${labels(s)},le="+Inf"} ${s.count}`);
      out.push(`veil_http_request_duration_seconds_sum{${labels(s)}} ${s.sum}`);
      out.push(`veil_http_request_duration_seconds_count{${labels(s)}} ${s.count}`);
    }
    if (stats) {
      out.push('# HELP veil_log_size Entries in the transparency log.');
      out.push('# TYPE veil_log_size gauge');
      out.push(`veil_log_size ${stats.logSize}`);
      out.push('# HELP veil_identities Published identities.');
      out.push('# TYPE veil_identities gauge');
      out.push(`veil_identities ${stats.identities}`);
      out.push(
        '# HELP veil_one_time_prekeys_remaining One-time prekeys not yet handed out, all handles.',
      );
      out.push('# TYPE veil_one_time_prekeys_remaining gauge');
      out.push(`veil_one_time_prekeys_remaining ${stats.oneTimePrekeys}`);
      out.push(
        '# HELP veil_kem_one_time_prekeys_remaining One-time KEM prekeys not yet handed out, all handles.',
      );
      out.push('# TYPE veil_kem_one_time_prekeys_remaining gauge');
      out.push(`veil_kem_one_time_prekeys_remaining ${stats.kemOneTimePrekeys}`);
    }
    out.push('');
    return out.join('\n');
  }
}
