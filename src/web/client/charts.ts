/// <reference lib="dom" />
/**
 * The pages' charts on uPlot (chosen for size and speed; see docs/ARCHITECTURE.md, "Web pages"):
 * bar charts (per layer, histograms) and time series (the status page). Colours come from the
 * stylesheet's variables, so charts follow the light or dark scheme; charts follow their
 * container's width and are rebuilt when the scheme changes.
 * @module
 */
import uPlot from "uplot";

/** A colour of the stylesheet (`--stored`, `--muted`, …). */
export function cssColour(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

function axisStyle(): Partial<uPlot.Axis> {
  return {
    stroke: cssColour("--muted"),
    grid: { stroke: cssColour("--border"), width: 1 },
    ticks: { stroke: cssColour("--border"), width: 1 },
    font: "12px system-ui, sans-serif",
  };
}

/** A series of a bar chart. */
export interface BarSeries {
  /** Legend label. */
  readonly label: string;
  /** Values, one per x. */
  readonly values: ArrayLike<number | null>;
  /** Stylesheet variable of its colour. */
  readonly colour: string;
  /** A line on the right axis instead of bars. */
  readonly line?: boolean;
  /** Formats a value for the legend. */
  readonly format?: (v: number) => string;
}

/** Options of {@link barChart}. */
export interface BarChartOptions {
  /** X values (bar positions). */
  readonly x: ArrayLike<number>;
  /** What x is, for the legend. */
  readonly xName?: string;
  /** Series, drawn in order (later bars over earlier ones). */
  readonly series: readonly BarSeries[];
  /** Formats an x value for the axis and legend. */
  readonly xLabel?: (x: number) => string;
  /** Formats a left-axis value. */
  readonly yFormat?: (v: number) => string;
  /** Formats a right-axis value (for line series). */
  readonly y2Format?: (v: number) => string;
  /** Height in pixels. */
  readonly height?: number;
  /** Relative bar width (0-1). */
  readonly barWidth?: number;
}

const charts = new Set<{ rebuild(): void }>();
let watching = false;

function watchScheme() {
  if (watching) return;
  watching = true;
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
    for (const c of charts) c.rebuild();
  });
}

/** A chart that follows its container's width and the colour scheme. */
export interface Chart {
  /** The uPlot instance (replaced when rebuilt). */
  readonly plot: uPlot;
  /** Replaces the data. */
  setData(data: uPlot.AlignedData): void;
  /** Removes the chart. */
  destroy(): void;
}

function mount(container: HTMLElement, build: (width: number) => uPlot): Chart {
  watchScheme();
  container.replaceChildren();
  let plot = build(container.clientWidth || 600);
  const ro = new ResizeObserver(() => {
    const w = container.clientWidth;
    if (w > 0 && Math.abs(w - plot.width) > 1) plot.setSize({ width: w, height: plot.height });
  });
  ro.observe(container);
  const entry = {
    rebuild() {
      const data = plot.data;
      plot.destroy();
      plot = build(container.clientWidth || 600);
      plot.setData(data);
    },
  };
  charts.add(entry);
  return {
    get plot() {
      return plot;
    },
    setData(data) {
      plot.setData(data);
    },
    destroy() {
      ro.disconnect();
      charts.delete(entry);
      plot.destroy();
    },
  };
}

/**
 * A bar chart in `container`, with an optional line series on a right axis.
 *
 * @example
 * ```ts ignore
 * barChart(el, { x: [0, 1], series: [{ label: "raw", values: [3, 4], colour: "--saved" }] });
 * ```
 */
export function barChart(container: HTMLElement, o: BarChartOptions): Chart {
  const bars = uPlot.paths.bars!({ size: [o.barWidth ?? 0.8, 80], align: 0 });
  const build = (width: number) => {
    const series: uPlot.Series[] = [{
      label: o.xName ?? "x",
      value: (_u, v) => (v === null ? "-" : o.xLabel ? o.xLabel(v) : String(v)),
    }];
    for (const s of o.series) {
      const colour = cssColour(s.colour);
      series.push(
        s.line
          ? {
            label: s.label,
            stroke: colour,
            width: 2,
            scale: "y2",
            points: { show: o.x.length <= 60, size: 4, fill: colour },
            value: (_u, v) => (v === null ? "-" : s.format ? s.format(v) : String(v)),
          }
          : {
            label: s.label,
            fill: colour,
            stroke: colour,
            width: 0,
            paths: bars,
            points: { show: false },
            value: (_u, v) => (v === null ? "-" : s.format ? s.format(v) : String(v)),
          },
      );
    }
    const hasLine = o.series.some((s) => s.line);
    const axes: uPlot.Axis[] = [
      {
        ...axisStyle(),
        values: (_u, splits) => splits.map((v) => (o.xLabel ? o.xLabel(v) : String(v))),
      },
      {
        ...axisStyle(),
        size: 64,
        values: (_u, splits) => splits.map((v) => (o.yFormat ? o.yFormat(v) : String(v))),
      },
    ];
    if (hasLine) {
      axes.push({
        ...axisStyle(),
        scale: "y2",
        side: 1,
        size: 52,
        grid: { show: false },
        values: (_u, splits) => splits.map((v) => (o.y2Format ? o.y2Format(v) : String(v))),
      });
    }
    const n = o.x.length;
    const step = n > 1 ? (o.x[n - 1] - o.x[0]) / (n - 1) : 1;
    return new uPlot(
      {
        width,
        height: o.height ?? 260,
        series,
        axes,
        legend: { live: true },
        cursor: { drag: { x: false, y: false }, points: { show: false } },
        scales: {
          x: { time: false, range: () => [o.x[0] - step / 2, o.x[n - 1] + step / 2] },
          y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.05 : 1] },
          ...(hasLine &&
            { y2: { range: (_u, min, max) => [Math.min(1, min), Math.max(max * 1.05, 1.1)] } }),
        },
      },
      [Array.from(o.x), ...o.series.map((s) => Array.from(s.values))] as uPlot.AlignedData,
      container,
    );
  };
  return mount(container, build);
}

/** Options of {@link timeChart}. */
export interface TimeChartOptions {
  /** Legend label of the series. */
  readonly label: string;
  /** Stylesheet variable of its colour. */
  readonly colour: string;
  /** Formats a value. */
  readonly format: (v: number) => string;
  /** Fixed range of the y axis, when the values have one (a ratio). */
  readonly range?: [number, number];
  /** Height in pixels. */
  readonly height?: number;
}

/** A time series chart (x in Unix seconds) in `container`. */
export function timeChart(container: HTMLElement, o: TimeChartOptions): Chart {
  const build = (width: number) =>
    new uPlot(
      {
        width,
        height: o.height ?? 180,
        series: [
          {},
          {
            label: o.label,
            stroke: cssColour(o.colour),
            fill: cssColour(o.colour) + "33",
            width: 2,
            points: { show: false },
            spanGaps: false,
            value: (_u, v) => (v === null ? "-" : o.format(v)),
          },
        ],
        axes: [
          { ...axisStyle() },
          { ...axisStyle(), size: 70, values: (_u, splits) => splits.map(o.format) },
        ],
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
        scales: {
          x: { time: true },
          y: { range: o.range ? () => o.range! : (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
        },
      },
      [[], []],
      container,
    );
  return mount(container, build);
}
