// Chart.js charts for the overview: live offers per network over days (line) and run durations over time
// (scatter, one colour per outcome). Only the parts of Chart.js these use are registered, to keep the bundle small.
import { useEffect, useRef } from 'preact/hooks';
import {
  Chart, CategoryScale, Filler, Legend, LinearScale, LineController, LineElement, PointElement, ScatterController, Tooltip,
  type ChartConfiguration, type ChartType,
} from 'chart.js';
import type { OffersChart as OffersData, RunsChart as RunsData } from './types.ts';
import { dateTime, duration } from './format.ts';

Chart.register(LineController, ScatterController, LineElement, PointElement, CategoryScale, LinearScale, Legend, Tooltip, Filler);

/** A stable colour per network name, so a network keeps its colour across reloads and charts. */
export function colorOf(name: string, alpha = 1): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return `hsla(${h % 360}, 62%, 45%, ${alpha})`;
}

const STATUS_COLOR: Record<string, string> = { succeeded: '#2f855a', failed: '#c53030', cancelled: '#b7791f', running: '#2b6cb0' };

function useChart<T extends ChartType>(config: () => ChartConfiguration<T>, data: unknown) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart<T>>();
  useEffect(() => {
    if (!canvas.current) return;
    const c = config();
    if (chart.current) {
      // Updating in place keeps the legend's hidden series hidden across live refreshes.
      const hidden = new Set(chart.current.data.datasets.filter((_, i) => !chart.current!.isDatasetVisible(i)).map((d) => d.label));
      chart.current.data = c.data;
      c.data.datasets.forEach((d, i) => { if (hidden.has(d.label)) chart.current!.setDatasetVisibility(i, false); });
      chart.current.update('none');
    } else {
      chart.current = new Chart(canvas.current, c);
    }
  }, [data]);
  useEffect(() => () => { chart.current?.destroy(); chart.current = undefined; }, []);
  return canvas;
}

export function OffersChart({ data }: { data: OffersData }) {
  const canvas = useChart<'line'>(() => ({
    type: 'line',
    data: {
      labels: data.days,
      datasets: data.series.map((s) => ({
        label: s.network,
        data: s.live,
        borderColor: colorOf(s.network),
        backgroundColor: colorOf(s.network, 0.15),
        pointRadius: data.days.length > 40 ? 0 : 2,
        tension: 0.2,
      })),
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: 'index', intersect: false },
      scales: { y: { beginAtZero: true, title: { display: true, text: 'live offers' } } },
      plugins: { legend: { position: 'bottom' } },
    },
  }), data);
  return (
    <div class="chart" data-testid="chart-offers">
      <canvas ref={canvas} role="img" aria-label="Live offers per network by day" />
    </div>
  );
}

interface RunPoint { x: number; y: number; network: string; id: string }

export function RunsChart({ data }: { data: RunsData }) {
  const canvas = useChart<'scatter'>(() => {
    const byStatus = new Map<string, RunPoint[]>();
    for (const r of data.runs) {
      if (r.duration_ms === null || r.duration_ms === undefined) continue;
      const x = new Date(r.started_at).getTime();
      if (Number.isNaN(x)) continue;
      const list = byStatus.get(r.status) ?? [];
      list.push({ x, y: r.duration_ms / 1000, network: r.network, id: r.id });
      byStatus.set(r.status, list);
    }
    const xs = data.runs.map((r) => new Date(r.started_at).getTime()).filter((x) => !Number.isNaN(x));
    // Within two days, ticks show the time of day; over longer spans, the date.
    const short = xs.length > 0 && Math.max(...xs) - Math.min(...xs) < 2 * 86_400_000;
    const tick = (v: number) => (short
      ? new Date(v).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })
      : new Date(v).toLocaleDateString(undefined, { month: 'short', day: 'numeric' }));
    return {
      type: 'scatter',
      data: {
        datasets: [...byStatus].map(([status, points]) => ({
          label: status,
          data: points,
          backgroundColor: STATUS_COLOR[status] ?? '#718096',
          borderColor: STATUS_COLOR[status] ?? '#718096',
          pointRadius: 3,
          pointStyle: status === 'failed' ? 'crossRot' : 'circle',
        })),
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: { type: 'linear', ticks: { maxTicksLimit: 6, callback: (v) => tick(Number(v)) } },
          y: { beginAtZero: true, title: { display: true, text: 'duration (s)' } },
        },
        plugins: {
          legend: { position: 'bottom' },
          tooltip: {
            callbacks: {
              label: (ctx) => {
                const p = ctx.raw as RunPoint;
                return `${p.network}: ${duration(p.y * 1000)} at ${dateTime(new Date(p.x).toISOString())}`;
              },
            },
          },
        },
      },
    };
  }, data);
  return (
    <div class="chart" data-testid="chart-runs">
      <canvas ref={canvas} role="img" aria-label="Run durations over time" />
    </div>
  );
}
