// The dashboard's numbers turned into what the charts draw: pure functions, so the
// series' shape (dates, units, yuan from fen) is tested without a canvas.
import type { SeriesDay } from '../api/admin'

export interface ChartSpec {
  title: string
  kind: 'bar' | 'line'
  /** "MM-DD" labels, oldest first. */
  days: string[]
  lines: { name: string; values: number[] }[]
  /** The values are fen, drawn as yuan. */
  money?: boolean
}

type Metric = Exclude<keyof SeriesDay, 'date'>

/** One chart's data from the series: the metric of every day, oldest first. */
export function seriesSpec(
  series: SeriesDay[],
  title: string,
  kind: ChartSpec['kind'],
  lines: { name: string; metric: Metric }[],
): ChartSpec {
  const days = series.map((d) => d.date.slice(5))
  const money = lines.some((l) => l.metric === 'revenue_fen')
  return {
    title,
    kind,
    days,
    money,
    lines: lines.map((l) => ({ name: l.name, values: series.map((d) => Number(d[l.metric]) || 0) })),
  }
}

const COLORS = ['#9a3412', '#0f766e', '#4338ca', '#a16207']

/** The ECharts option of a spec (fen shown as yuan with two decimals). */
export function chartOption(spec: ChartSpec): Record<string, unknown> {
  const value = (v: number) => (spec.money ? Math.round(v) / 100 : v)
  return {
    color: COLORS,
    animation: false,
    grid: { left: 8, right: 12, top: spec.lines.length > 1 ? 30 : 12, bottom: 4, containLabel: true },
    legend: spec.lines.length > 1 ? { top: 0, data: spec.lines.map((l) => l.name) } : undefined,
    tooltip: { trigger: 'axis', valueFormatter: spec.money ? (v: number) => `¥${Number(v).toFixed(2)}` : undefined },
    xAxis: { type: 'category', data: spec.days, axisTick: { alignWithLabel: true } },
    yAxis: { type: 'value', minInterval: spec.money ? 0 : 1 },
    series: spec.lines.map((l) => ({
      name: l.name,
      type: spec.kind,
      data: l.values.map(value),
      smooth: spec.kind === 'line',
      barMaxWidth: 18,
    })),
  }
}
