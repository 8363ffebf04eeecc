import { describe, expect, it } from "vitest";
import {
  Counter,
  Gauge,
  Histogram,
  MetricError,
  MetricsRegistry,
  PROMETHEUS_CONTENT_TYPE,
} from "../../src/metrics/prometheus.js";

describe("Counter", () => {
  it("renders HELP, TYPE and an unlabelled series starting at 0", () => {
    const registry = new MetricsRegistry();
    const c = registry.counter({ name: "jobs_total", help: "Jobs done." });
    expect(registry.render()).toBe("# HELP jobs_total Jobs done.\n# TYPE jobs_total counter\njobs_total 0\n");
    c.inc();
    c.inc(2.5);
    expect(c.get()).toBe(3.5);
    expect(registry.render()).toContain("\njobs_total 3.5\n");
  });

  it("keeps one series per label set and orders labels as declared", () => {
    const c = new Counter({ name: "req_total", help: "h", labelNames: ["method", "code"] });
    c.inc({ code: "200", method: "GET" });
    c.inc({ method: "GET", code: "200" }, 2);
    c.inc({ method: "POST", code: "500" });
    expect(c.get({ method: "GET", code: "200" })).toBe(3);
    expect(c.samples()).toEqual([
      'req_total{method="GET",code="200"} 3',
      'req_total{method="POST",code="500"} 1',
    ]);
  });

  it("declared series show 0 before their first event", () => {
    const c = new Counter({ name: "outcomes_total", help: "h", labelNames: ["outcome"] });
    c.declare({ outcome: "known" });
    expect(c.samples()).toEqual(['outcomes_total{outcome="known"} 0']);
  });

  it("escapes label values and help text", () => {
    const c = new Counter({ name: "x_total", help: "line1\nback\\slash", labelNames: ["v"] });
    c.inc({ v: 'a"b\\c\nd' });
    expect(c.render()).toBe(
      '# HELP x_total line1\\nback\\\\slash\n# TYPE x_total counter\nx_total{v="a\\"b\\\\c\\nd"} 1',
    );
  });

  it("refuses decreases, missing and unknown labels", () => {
    const c = new Counter({ name: "y_total", help: "h", labelNames: ["a"] });
    expect(() => c.inc({ a: "1" }, -1)).toThrow(MetricError);
    expect(() => c.inc()).toThrow(/needs label "a"/);
    expect(() => c.inc({ a: "1", b: "2" })).toThrow(/no label "b"/);
  });

  it("rejects invalid names", () => {
    expect(() => new Counter({ name: "bad-name", help: "h" })).toThrow(MetricError);
    expect(() => new Counter({ name: "ok", help: "h", labelNames: ["__reserved"] })).toThrow(MetricError);
    const registry = new MetricsRegistry();
    registry.counter({ name: "dup", help: "h" });
    expect(() => registry.counter({ name: "dup", help: "h" })).toThrow(/already registered/);
  });
});

describe("Gauge", () => {
  it("sets, increments and decrements", () => {
    const g = new Gauge({ name: "connected", help: "h" });
    g.set(1);
    g.inc(2);
    g.dec();
    expect(g.get()).toBe(2);
    expect(g.samples()).toEqual(["connected 2"]);
  });

  it("reads collect() at render time", () => {
    let value = 5;
    const g = new Gauge({ name: "rss_bytes", help: "h", collect: () => value });
    expect(g.samples()).toEqual(["rss_bytes 5"]);
    value = 7;
    expect(g.samples()).toEqual(["rss_bytes 7"]);
  });

  it("formats infinities", () => {
    const g = new Gauge({ name: "inf", help: "h" });
    g.set(Number.POSITIVE_INFINITY);
    expect(g.samples()).toEqual(["inf +Inf"]);
    expect(() => g.set(Number.NaN)).toThrow(MetricError);
  });
});

describe("Histogram", () => {
  it("renders cumulative buckets, +Inf, sum and count", () => {
    const h = new Histogram({ name: "lat_seconds", help: "h", labelNames: ["stage"], buckets: [0.1, 1] });
    h.observe({ stage: "vad" }, 0.05);
    h.observe({ stage: "vad" }, 0.1); // bounds are inclusive
    h.observe({ stage: "vad" }, 0.5);
    h.observe({ stage: "vad" }, 3);
    expect(h.samples()).toEqual([
      'lat_seconds_bucket{stage="vad",le="0.1"} 2',
      'lat_seconds_bucket{stage="vad",le="1"} 3',
      'lat_seconds_bucket{stage="vad",le="+Inf"} 4',
      'lat_seconds_sum{stage="vad"} 3.65',
      'lat_seconds_count{stage="vad"} 4',
    ]);
    expect(h.get({ stage: "vad" })).toEqual({ count: 4, sum: 3.65 });
  });

  it("times a stage with startTimer", () => {
    const h = new Histogram({ name: "t_seconds", help: "h", buckets: [1] });
    const stop = h.startTimer();
    const seconds = stop();
    expect(seconds).toBeGreaterThanOrEqual(0);
    expect(h.get().count).toBe(1);
  });

  it("rejects unsorted buckets and the le label", () => {
    expect(() => new Histogram({ name: "a", help: "h", buckets: [1, 0.5] })).toThrow(MetricError);
    expect(() => new Histogram({ name: "b", help: "h", buckets: [] })).toThrow(MetricError);
    expect(() => new Histogram({ name: "c", help: "h", labelNames: ["le"], buckets: [1] })).toThrow(
      MetricError,
    );
  });
});

describe("exposition format", () => {
  it("every sample line parses as name{labels} value", () => {
    const registry = new MetricsRegistry();
    registry.counter({ name: "a_total", help: "A." }).inc();
    registry.gauge({ name: "b", help: "B." }).set(-1.5);
    registry.histogram({ name: "c_seconds", help: "C.", buckets: [0.5] }).observe(0.2);
    const text = registry.render();
    expect(text.endsWith("\n")).toBe(true);
    const sampleLine =
      /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN)$/;
    for (const line of text.trimEnd().split("\n")) {
      if (line.startsWith("#")) expect(line).toMatch(/^# (HELP|TYPE) /);
      else expect(line).toMatch(sampleLine);
    }
    expect(PROMETHEUS_CONTENT_TYPE).toMatch(/^text\/plain; version=0\.0\.4/);
  });
});
