import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Percentiles } from './histogram.js';
import { type IntervalSample, type LoadResult, READER_KINDS } from './load-generator.js';

export interface Line {
  label: string;
  points: readonly (readonly [number, number])[];
  color: string;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

/** Round step for about `count` ticks over `span`. */
function niceStep(span: number, count: number): number {
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const residual = raw / magnitude;
  return (residual > 5 ? 10 : residual > 2 ? 5 : residual > 1 ? 2 : 1) * magnitude;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

function tickLabel(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${+(value / 1e6).toFixed(1)}M`;
  if (abs >= 1e4) return `${+(value / 1e3).toFixed(1)}k`;
  return abs < 1 ? String(+value.toFixed(3)) : String(+value.toFixed(1));
}

/** A self-contained SVG line chart (no script, no external resource). */
export function lineChart(title: string, unit: string, lines: readonly Line[], width = 620, height = 240): string {
  const left = 56;
  const right = 12;
  const top = 28;
  const bottom = 38;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const finite = lines.flatMap((line) => line.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const maxX = Math.max(1, ...lines.flatMap((line) => line.points.map(([x]) => x)).filter((x) => Number.isFinite(x)));
  const maxY = Math.max(0, ...finite.map(([, y]) => y));
  const stepY = maxY > 0 ? niceStep(maxY, 4) : 1;
  const topY = Math.max(stepY, Math.ceil(maxY / stepY) * stepY);
  const stepX = niceStep(maxX, 6);
  const sx = (x: number) => left + (x / maxX) * plotW;
  const sy = (y: number) => top + plotH - (y / topY) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<text x="${left}" y="16" font-size="13" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="${width - right}" y="16" text-anchor="end" fill="#555">${escapeXml(unit)}</text>`,
  ];
  for (let y = 0; y <= topY + 1e-9; y += stepY) {
    parts.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${sy(y).toFixed(1)}" y2="${sy(y).toFixed(1)}" stroke="#e5e5e5"/>`,
      `<text x="${left - 6}" y="${(sy(y) + 4).toFixed(1)}" text-anchor="end" fill="#555">${tickLabel(y)}</text>`,
    );
  }
  for (let x = 0; x <= maxX + 1e-9; x += stepX) {
    parts.push(
      `<line x1="${sx(x).toFixed(1)}" x2="${sx(x).toFixed(1)}" y1="${top + plotH}" y2="${top + plotH + 4}" stroke="#888"/>`,
      `<text x="${sx(x).toFixed(1)}" y="${top + plotH + 16}" text-anchor="middle" fill="#555">${tickLabel(x)}</text>`,
    );
  }
  parts.push(
    `<text x="${left + plotW / 2}" y="${height - 4}" text-anchor="middle" fill="#555">seconds</text>`,
    `<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`,
  );
  lines.forEach((line, index) => {
    // A gap (NaN) breaks the line instead of dropping to zero.
    let path = '';
    let pen = false;
    for (const [x, y] of line.points) {
      if (!Number.isFinite(x) || !Number.isFinite(y)) {
        pen = false;
        continue;
      }
      path += `${pen ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`;
      pen = true;
    }
    if (path) parts.push(`<path d="${path}" fill="none" stroke="${line.color}" stroke-width="1.6"/>`);
    const lx = left + 8 + index * 110;
    parts.push(
      `<rect x="${lx}" y="${top + 6}" width="10" height="3" fill="${line.color}"/>`,
      `<text x="${lx + 14}" y="${top + 11}" fill="#333">${escapeXml(line.label)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}

function series(samples: readonly IntervalSample[], pick: (s: IntervalSample) => number): [number, number][] {
  return samples.map((s) => [s.t, pick(s)]);
}

const sumValues = (record: Record<string, number>) => Object.values(record).reduce((a, b) => a + b, 0);

/** The load generator's result as one HTML page with inline SVG charts and the totals. */
export function renderLoadReport(result: LoadResult, title = 'kubescaler load generator'): string {
  const s = result.series;
  const charts = [
    lineChart('Streams', 'count', [
      { label: 'live', points: series(s, (x) => x.live), color: COLORS[0]! },
      { label: 'started', points: series(s, (x) => x.started), color: COLORS[2]! },
    ]),
    lineChart('New streams and refusals', 'per second / per interval', [
      { label: 'new streams/s', points: series(s, (x) => x.newPerSecond), color: COLORS[0]! },
      { label: 'refused', points: series(s, (x) => sumValues(x.refused)), color: COLORS[1]! },
    ]),
    lineChart('Events received', 'events/s', [
      { label: 'events/s', points: series(s, (x) => x.eventsPerSecond), color: COLORS[0]! },
    ]),
    lineChart('Bytes received', 'MB/s', [
      { label: 'MB/s', points: series(s, (x) => x.mbPerSecond), color: COLORS[3]! },
    ]),
    lineChart('Time to first event', 'ms', [
      { label: 'p50', points: series(s, (x) => x.ttfe.p50), color: COLORS[2]! },
      { label: 'p90', points: series(s, (x) => x.ttfe.p90), color: COLORS[3]! },
      { label: 'p99', points: series(s, (x) => x.ttfe.p99), color: COLORS[1]! },
    ]),
    lineChart('Delivery latency (fast readers, now − event timestamp)', 'ms', [
      { label: 'p50', points: series(s, (x) => x.latency.p50), color: COLORS[2]! },
      { label: 'p99', points: series(s, (x) => x.latency.p99), color: COLORS[1]! },
    ]),
    lineChart('Dropped events (seq gaps)', 'per interval', [
      { label: 'drops', points: series(s, (x) => x.drops), color: COLORS[1]! },
    ]),
    lineChart('Load generator memory', 'MB RSS', [
      { label: 'RSS', points: series(s, (x) => x.rssBytes / 1e6), color: COLORS[4]! },
    ]),
  ];
  const { options, ...rest } = result;
  const summary = { ...rest, series: `${result.series.length} intervals (charted above)` };
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(title)}</title>
<style>body{font-family:sans-serif;margin:24px;color:#222}.charts{display:flex;flex-wrap:wrap;gap:12px}
pre{background:#f6f6f6;padding:12px;overflow:auto;font-size:12px}</style></head>
<body><h1>${escapeXml(title)}</h1>
<p>Started ${escapeXml(result.startedAt)}, ${result.durationSeconds} s; targets ${escapeXml(options.targets.join(', '))};
${options.streams} streams (${escapeXml(
    Object.entries(options.mix)
      .map(([k, v]) => `${k} ${v} %`)
      .join(', '),
  )}).</p>
<div class="charts">${charts.join('\n')}</div>
<h2>Result</h2><pre>${escapeXml(JSON.stringify(summary, null, 2))}</pre>
<h2>Options</h2><pre>${escapeXml(JSON.stringify(options, null, 2))}</pre>
</body></html>
`;
}

const fmt = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '-');
const triple = (p: Percentiles) => `${fmt(p.p50)}/${fmt(p.p90)}/${fmt(p.p99)}`;

export function progressLine(s: IntervalSample): string {
  const refused = Object.entries(s.refused)
    .map(([status, n]) => `${status}:${n}`)
    .join(' ');
  return (
    `[${s.t.toFixed(1).padStart(6)}s] live ${String(s.live).padStart(5)} new ${fmt(s.newPerSecond, 0).padStart(4)}/s` +
    `${refused ? ` refused ${refused}` : ''} | ${fmt(s.eventsPerSecond, 0).padStart(6)} ev/s ${fmt(s.mbPerSecond).padStart(6)} MB/s` +
    ` drops ${s.drops} | ttfe p50/p90/p99 ${triple(s.ttfe)} ms | lat p50/p99 ${fmt(s.latency.p50)}/${fmt(s.latency.p99)} ms` +
    ` | rss ${(s.rssBytes / 1e6).toFixed(0)} MB`
  );
}

export function summaryLines(result: LoadResult): string[] {
  const t = result.totals;
  const lines = [
    `streams: ${t.started} started, ${t.streaming} streaming, ${t.firstEvents} got a first event, max live ${t.maxLive}`,
    `refused: ${JSON.stringify(t.refusedCodes)}  errors: ${JSON.stringify(t.errors)}  ended by server: ${JSON.stringify(t.closedByServer)}`,
    `events: ${t.messages} (${(t.bytes / 1e6).toFixed(1)} MB), gaps ${t.gaps}, out of order ${t.disorders}, protocol errors ${t.protocolErrors}`,
    `time to first event: p50 ${fmt(result.ttfe.p50)} ms, p90 ${fmt(result.ttfe.p90)} ms, p99 ${fmt(result.ttfe.p99)} ms, max ${fmt(result.ttfe.max)} ms`,
  ];
  for (const kind of READER_KINDS) {
    const k = result.kinds[kind];
    if (k.started === 0) continue;
    lines.push(
      `${kind.padEnd(7)}: ${k.streaming} streams, ${k.messages} events, gaps ${k.gaps} (delivered ${fmt(k.deliveredFraction * 100, 2)} %),` +
        ` ${fmt(k.eventsPerStreamPerSecond.p50, 2)} ev/s per stream (p50)` +
        `${k.rateFraction ? `, ${fmt(k.rateFraction.p50 * 100)} % of the expected rate (worst ${fmt(k.rateFraction.min * 100)} %)` : ''}` +
        `, latency p50/p99 ${fmt(k.latency.p50)}/${fmt(k.latency.p99)} ms`,
    );
  }
  lines.push(
    `load generator: RSS peak ${(result.loadgen.rssPeakBytes / 1e6).toFixed(0)} MB, CPU ${result.loadgen.cpuSeconds.toFixed(1)} s, open files limit ${result.loadgen.openFilesLimit}`,
  );
  return lines;
}

/** Writes `<file>.json` and the chart `<file>.html`; returns both paths. */
export function writeResult(result: LoadResult, file: string, title?: string): { json: string; html: string } {
  const json = resolve(file);
  const html = json.replace(/\.json$/, '') + '.html';
  mkdirSync(dirname(json), { recursive: true });
  writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(html, renderLoadReport(result, title));
  return { json, html };
}
