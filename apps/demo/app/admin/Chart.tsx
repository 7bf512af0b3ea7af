'use client';

import { useEffect, useRef } from 'react';
import type uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  stroke: string;
}

/**
 * One uPlot time chart: `data` is `[times (epoch s), ...one array per series]`. uPlot is loaded
 * in the browser only (it measures the page when it draws). `data-total` sums the series, so a
 * test can see the chart move.
 */
export function Chart({ id, title, series, data, unit }: { id: string; title: string; series: Series[]; data: number[][]; unit?: string }) {
  const target = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const latest = useRef(data);
  latest.current = data;

  useEffect(() => {
    let gone = false;
    void import('uplot').then(({ default: UPlot }) => {
      if (gone || !target.current) return;
      plot.current = new UPlot(
        {
          title,
          width: Math.min(680, target.current.clientWidth || 680),
          height: 170,
          series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 1.5, points: { show: false } }))],
          axes: [{}, { label: unit, size: 50 }],
          scales: { x: { time: true } },
        },
        latest.current as uPlot.AlignedData,
        target.current,
      );
    });
    return () => {
      gone = true;
      plot.current?.destroy();
      plot.current = undefined;
    };
    // Built once; new data goes through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    plot.current?.setData(data as uPlot.AlignedData);
  }, [data]);

  const total = data.slice(1).reduce((sum, values) => sum + values.reduce((a, b) => a + b, 0), 0);
  return (
    <figure data-testid={`chart-${id}`} data-total={total} style={{ margin: '1rem 0' }}>
      <div ref={target} />
    </figure>
  );
}
