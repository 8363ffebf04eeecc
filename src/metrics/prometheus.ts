/**
 * A minimal Prometheus registry rendering the text exposition format 0.0.4: counters and gauges with
 * labels, histograms with fixed buckets. No dependency; the daemon only needs a handful of series.
 */

export type Labels = Readonly<Record<string, string>>;

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class MetricError extends Error {
  readonly code = "metric_error";
}

interface MetricOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
}

type MetricType = "counter" | "gauge" | "histogram";

abstract class Metric {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly type: MetricType;

  constructor(options: MetricOptions) {
    if (!METRIC_NAME.test(options.name)) throw new MetricError(`invalid metric name "${options.name}"`);
    const labelNames = options.labelNames ?? [];
    for (const label of labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith("__")) {
        throw new MetricError(`invalid label name "${label}" on metric ${options.name}`);
      }
    }
    if (new Set(labelNames).size !== labelNames.length) {
      throw new MetricError(`duplicate label names on metric ${options.name}`);
    }
    this.name = options.name;
    this.help = options.help;
    this.labelNames = labelNames;
  }

  /** Canonical series key: label values in declared order; throws on missing or unexpected labels. */
  protected keyOf(labels: Labels | undefined): string {
    const given = labels ?? {};
    for (const label of Object.keys(given)) {
      if (!this.labelNames.includes(label)) {
        throw new MetricError(`metric ${this.name} has no label "${label}"`);
      }
    }
    const values = this.labelNames.map((label) => {
      const value = given[label];
      if (typeof value !== "string") throw new MetricError(`metric ${this.name} needs label "${label}"`);
      return value;
    });
    return JSON.stringify(values);
  }

  protected labelsOf(key: string): [string, string][] {
    const values = JSON.parse(key) as string[];
    return this.labelNames.map((label, i) => [label, values[i]]);
  }

  abstract samples(): string[];

  render(): string {
    const lines = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    return [...lines, ...this.samples()].join("\n");
  }
}

function isLabels(value: unknown): value is Labels {
  return typeof value === "object" && value !== null;
}

/** Monotonic count; resets only with the process. */
export class Counter extends Metric {
  readonly type = "counter";
  private readonly values = new Map<string, number>();

  constructor(options: MetricOptions) {
    super(options);
    if (this.labelNames.length === 0) this.values.set(this.keyOf({}), 0);
  }

  inc(by?: number): void;
  inc(labels: Labels, by?: number): void;
  inc(labelsOrBy?: Labels | number, maybeBy?: number): void {
    const labels = isLabels(labelsOrBy) ? labelsOrBy : undefined;
    const by = (isLabels(labelsOrBy) ? maybeBy : labelsOrBy) ?? 1;
    if (!(Number.isFinite(by) && by >= 0)) {
      throw new MetricError(`counter ${this.name} can only increase by a finite non-negative amount (${by})`);
    }
    const key = this.keyOf(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }

  /** Makes a labelled series visible at 0 before its first event, so rate() sees the first increment. */
  declare(labels: Labels): void {
    const key = this.keyOf(labels);
    if (!this.values.has(key)) this.values.set(key, 0);
  }

  get(labels?: Labels): number {
    return this.values.get(this.keyOf(labels)) ?? 0;
  }

  samples(): string[] {
    return [...this.values].map(([key, value]) => seriesLine(this.name, this.labelsOf(key), value));
  }
}

/** A value that goes up and down; optionally read from `collect` at scrape time. */
export class Gauge extends Metric {
  readonly type = "gauge";
  private readonly values = new Map<string, number>();
  private readonly collect?: () => number;

  constructor(options: MetricOptions & { collect?: () => number }) {
    super(options);
    if (options.collect && this.labelNames.length > 0) {
      throw new MetricError(`gauge ${this.name}: collect() is only supported without labels`);
    }
    this.collect = options.collect;
    if (this.labelNames.length === 0) this.values.set(this.keyOf({}), 0);
  }

  set(value: number): void;
  set(labels: Labels, value: number): void;
  set(labelsOrValue: Labels | number, maybeValue?: number): void {
    const labels = isLabels(labelsOrValue) ? labelsOrValue : undefined;
    const value = isLabels(labelsOrValue) ? maybeValue : labelsOrValue;
    if (typeof value !== "number" || Number.isNaN(value)) {
      throw new MetricError(`gauge ${this.name} needs a numeric value (${value})`);
    }
    this.values.set(this.keyOf(labels), value);
  }

  inc(by?: number): void;
  inc(labels: Labels, by?: number): void;
  inc(labelsOrBy?: Labels | number, maybeBy?: number): void {
    const labels = isLabels(labelsOrBy) ? labelsOrBy : undefined;
    const by = (isLabels(labelsOrBy) ? maybeBy : labelsOrBy) ?? 1;
    const key = this.keyOf(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }

  dec(by?: number): void;
  dec(labels: Labels, by?: number): void;
  dec(labelsOrBy?: Labels | number, maybeBy?: number): void {
    if (isLabels(labelsOrBy)) this.inc(labelsOrBy, -(maybeBy ?? 1));
    else this.inc(-(labelsOrBy ?? 1));
  }

  get(labels?: Labels): number {
    if (this.collect) return this.collect();
    return this.values.get(this.keyOf(labels)) ?? 0;
  }

  samples(): string[] {
    if (this.collect) return [seriesLine(this.name, [], this.collect())];
    return [...this.values].map(([key, value]) => seriesLine(this.name, this.labelsOf(key), value));
  }
}

interface HistogramSeries {
  /** Non-cumulative counts per bucket; rendered cumulatively. */
  counts: number[];
  sum: number;
  count: number;
}

/** Observations counted into fixed upper bounds (plus +Inf), with their sum and count. */
export class Histogram extends Metric {
  readonly type = "histogram";
  readonly buckets: readonly number[];
  private readonly series = new Map<string, HistogramSeries>();

  constructor(options: MetricOptions & { buckets: readonly number[] }) {
    super(options);
    if (this.labelNames.includes("le")) throw new MetricError(`histogram ${this.name} cannot use label "le"`);
    const buckets = [...options.buckets];
    if (
      buckets.length === 0 ||
      buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]))
    ) {
      throw new MetricError(`histogram ${this.name} needs finite, strictly increasing buckets`);
    }
    this.buckets = buckets;
    if (this.labelNames.length === 0) this.declare({});
  }

  declare(labels: Labels): void {
    const key = this.keyOf(labels);
    if (!this.series.has(key)) this.series.set(key, this.emptySeries());
  }

  observe(value: number): void;
  observe(labels: Labels, value: number): void;
  observe(labelsOrValue: Labels | number, maybeValue?: number): void {
    const labels = isLabels(labelsOrValue) ? labelsOrValue : undefined;
    const value = isLabels(labelsOrValue) ? maybeValue : labelsOrValue;
    if (typeof value !== "number" || Number.isNaN(value)) {
      throw new MetricError(`histogram ${this.name} needs a numeric observation (${value})`);
    }
    const key = this.keyOf(labels);
    let series = this.series.get(key);
    if (!series) {
      series = this.emptySeries();
      this.series.set(key, series);
    }
    // Index len = the implicit +Inf bucket.
    let index = this.buckets.findIndex((bound) => value <= bound);
    if (index === -1) index = this.buckets.length;
    series.counts[index] += 1;
    series.sum += value;
    series.count += 1;
  }

  /** Starts a timer; calling the returned function observes the elapsed seconds and returns them. */
  startTimer(labels?: Labels): () => number {
    const started = process.hrtime.bigint();
    return () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (labels) this.observe(labels, seconds);
      else this.observe(seconds);
      return seconds;
    };
  }

  /** Count and sum of a series (for tests and logs). */
  get(labels?: Labels): { count: number; sum: number } {
    const series = this.series.get(this.keyOf(labels));
    return { count: series?.count ?? 0, sum: series?.sum ?? 0 };
  }

  samples(): string[] {
    const lines: string[] = [];
    for (const [key, series] of this.series) {
      const labels = this.labelsOf(key);
      let cumulative = 0;
      this.buckets.forEach((bound, i) => {
        cumulative += series.counts[i];
        lines.push(seriesLine(`${this.name}_bucket`, [...labels, ["le", formatValue(bound)]], cumulative));
      });
      cumulative += series.counts[this.buckets.length];
      lines.push(seriesLine(`${this.name}_bucket`, [...labels, ["le", "+Inf"]], cumulative));
      lines.push(seriesLine(`${this.name}_sum`, labels, series.sum));
      lines.push(seriesLine(`${this.name}_count`, labels, series.count));
    }
    return lines;
  }

  private emptySeries(): HistogramSeries {
    return { counts: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
  }
}

/** Holds metrics by name and renders them all for a scrape. */
export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>();

  register<M extends Metric>(metric: M): M {
    if (this.metrics.has(metric.name)) throw new MetricError(`metric ${metric.name} is already registered`);
    this.metrics.set(metric.name, metric);
    return metric;
  }

  counter(options: MetricOptions): Counter {
    return this.register(new Counter(options));
  }

  gauge(options: MetricOptions & { collect?: () => number }): Gauge {
    return this.register(new Gauge(options));
  }

  histogram(options: MetricOptions & { buckets: readonly number[] }): Histogram {
    return this.register(new Histogram(options));
  }

  /** The text exposition (format 0.0.4), ending with a newline as scrapers expect. */
  render(): string {
    return `${[...this.metrics.values()].map((m) => m.render()).join("\n")}\n`;
  }
}

function seriesLine(name: string, labels: readonly [string, string][], value: number): string {
  const labelText =
    labels.length === 0 ? "" : `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}`;
  return `${name}${labelText} ${formatValue(value)}`;
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}
