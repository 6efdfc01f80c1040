// Hand-rolled SVG line charts: latency by percentile (HdrHistogram style, the tail stretched on a log axis) and
// latency by arrival rate. Self-contained files, no fonts or scripts, readable on GitHub.
import type { Distribution } from './stats.ts'

export interface Series {
  name: string
  points: [number, number][]
  dashed?: boolean
  /** Palette index; default: the series' position. */
  color?: number
}

export interface ChartSpec {
  title: string
  xLabel: string
  yLabel: string
  series: Series[]
  /** Maps an x value to 0..1. */
  xScale: (x: number) => number
  xTicks: { value: number; label: string }[]
  yLog?: boolean
  /** How a y value is written on the axis; default: a latency (ms, s). */
  yFormat?: (v: number) => string
  refLines?: { y: number; label: string }[]
}

const palette = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22']
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

function niceTicks(min: number, max: number, log: boolean): number[] {
  if (log) {
    const ticks: number[] = []
    for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) for (const m of [1, 2, 5]) ticks.push(m * 10 ** e)
    return ticks.filter((t) => t >= min * 0.999 && t <= max * 1.001)
  }
  const span = max - min || 1
  const step = 10 ** Math.floor(Math.log10(span / 5))
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => span / s <= 6) ?? step * 10
  const ticks: number[] = []
  for (let t = Math.ceil(min / nice) * nice; t <= max + 1e-9; t += nice) ticks.push(Math.round(t * 1e6) / 1e6)
  return ticks
}

const label = (v: number) => (v >= 1000 ? `${v / 1000} s` : `${v} ms`)

export function lineChart(spec: ChartSpec): string {
  const W = 760
  const H = 420
  const m = { l: 70, r: 20, t: 40, b: 90 }
  const pw = W - m.l - m.r
  const ph = H - m.t - m.b
  const ys = spec.series.flatMap((s) => s.points.map((p) => p[1])).concat((spec.refLines ?? []).map((r) => r.y)).filter((v) => Number.isFinite(v) && (!spec.yLog || v > 0))
  let yMin = ys.length ? Math.min(...ys) : 1
  let yMax = ys.length ? Math.max(...ys) : 10
  if (spec.yLog) {
    yMin = 10 ** Math.floor(Math.log10(Math.max(yMin, 0.01)))
    yMax = 10 ** Math.ceil(Math.log10(Math.max(yMax, yMin * 10)))
  } else {
    yMin = 0
    yMax = yMax * 1.1 || 1
  }
  const sy = (v: number) => {
    const f = spec.yLog ? (Math.log10(v) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin)) : (v - yMin) / (yMax - yMin)
    return m.t + ph - Math.max(0, Math.min(1, f)) * ph
  }
  const sx = (v: number) => m.l + Math.max(0, Math.min(1, spec.xScale(v))) * pw
  const out: string[] = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`)
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`)
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(spec.title)}</text>`)
  for (const t of niceTicks(yMin, yMax, spec.yLog === true)) {
    out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${sy(t)}" y2="${sy(t)}" stroke="#e5e5e5"/>`)
    out.push(`<text x="${m.l - 6}" y="${sy(t) + 4}" text-anchor="end" fill="#444">${esc((spec.yFormat ?? label)(t))}</text>`)
  }
  for (const t of spec.xTicks) {
    out.push(`<line x1="${sx(t.value)}" x2="${sx(t.value)}" y1="${m.t}" y2="${m.t + ph}" stroke="#eeeeee"/>`)
    out.push(`<text x="${sx(t.value)}" y="${m.t + ph + 16}" text-anchor="middle" fill="#444">${esc(t.label)}</text>`)
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`)
  out.push(`<text x="${m.l + pw / 2}" y="${m.t + ph + 36}" text-anchor="middle">${esc(spec.xLabel)}</text>`)
  out.push(`<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(spec.yLabel)}</text>`)
  for (const r of spec.refLines ?? []) {
    out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${sy(r.y)}" y2="${sy(r.y)}" stroke="#999" stroke-dasharray="6 4"/>`)
    out.push(`<text x="${m.l + pw - 4}" y="${sy(r.y) - 4}" text-anchor="end" fill="#666">${esc(r.label)}</text>`)
  }
  spec.series.forEach((s, i) => {
    const color = palette[(s.color ?? i) % palette.length] as string
    const pts = s.points.filter((p) => Number.isFinite(p[1]) && (!spec.yLog || p[1] > 0))
    if (pts.length === 0) return
    const d = pts.map((p, j) => `${j === 0 ? 'M' : 'L'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ')
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`)
    for (const p of pts) out.push(`<circle cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="2.5" fill="${color}"/>`)
  })
  // legend below the plot, wrapped
  let lx = m.l
  let ly = m.t + ph + 56
  spec.series.forEach((s, i) => {
    const color = palette[(s.color ?? i) % palette.length] as string
    const w = 28 + s.name.length * 6.6
    if (lx + w > W - m.r) {
      lx = m.l
      ly += 16
    }
    out.push(`<line x1="${lx}" x2="${lx + 20}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="3"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`)
    out.push(`<text x="${lx + 24}" y="${ly}">${esc(s.name)}</text>`)
    lx += w + 12
  })
  out.push('</svg>')
  return out.join('\n')
}

/** Latency by percentile: the x axis is log10(1 / (1 − p)), so 90, 99, 99.9 % sit one step apart. */
export function percentileChart(title: string, series: { name: string; dist: Distribution; dashed?: boolean }[], refLines?: { y: number; label: string }[]): string {
  const tx = (p: number) => Math.log10(1 / (1 - Math.min(p, 99.99) / 100))
  const maxP = Math.max(99, ...series.flatMap((s) => s.dist.curve.map((c) => Math.min(c[0], 99.99))))
  const span = tx(maxP)
  return lineChart({
    title,
    xLabel: 'percentile',
    yLabel: 'latency',
    yLog: true,
    series: series.map((s) => ({ name: s.name, dashed: s.dashed, points: s.dist.curve.filter((c): c is [number, number] => c[1] !== null).map(([p, v]) => [p, Math.max(v, 0.01)]) })),
    xScale: (p) => tx(p) / span,
    xTicks: [0, 50, 90, 99, 99.9, 99.99].filter((p) => p <= maxP).map((p) => ({ value: p, label: `${p}%` })),
    refLines,
  })
}
