// Draws a series (the overview's 60 `opsPerSecond` numbers, oldest first) as a small inline SVG line with a
// filled area under it, scaled to the series' own peak.

import { svgElement } from './dom.js';

/** Drawing units of the SVG's coordinate system; the SVG itself stretches to its box (CSS sets the size). */
const SPARKLINE_WIDTH = 120;
const SPARKLINE_HEIGHT = 32;
/** Room kept above the peak and below zero so the line is not cut by the edges. */
const VERTICAL_PADDING = 2;
/** The scale a flat series of zeros is drawn against (a line along the bottom). */
const MINIMUM_PEAK = 1;

/** An `<svg>` drawing `values`, labelled for screen readers with `label`. */
export function renderSparkline(values, { label, testid }) {
  const points = sparklinePoints(values);
  const line = points.map(([x, y]) => `${x.toFixed(2)},${y.toFixed(2)}`).join(' ');
  const bottom = SPARKLINE_HEIGHT;
  const area = points.length === 0 ? '' : `0,${bottom} ${line} ${SPARKLINE_WIDTH},${bottom}`;
  return svgElement(
    'svg',
    {
      class: 'sparkline',
      viewBox: `0 0 ${SPARKLINE_WIDTH} ${SPARKLINE_HEIGHT}`,
      preserveAspectRatio: 'none',
      role: 'img',
      'aria-label': label,
      testid,
      dataset: { points: String(values.length) },
    },
    [
      svgElement('polygon', { class: 'sparkline-area', points: area }),
      svgElement('polyline', { class: 'sparkline-line', points: line, 'vector-effect': 'non-scaling-stroke' }),
    ],
  );
}

/** The `[x, y]` of each value, spread over the width, with the peak at the top. */
export function sparklinePoints(values) {
  if (values.length === 0) return [];
  const peak = Math.max(MINIMUM_PEAK, ...values);
  const drawableHeight = SPARKLINE_HEIGHT - 2 * VERTICAL_PADDING;
  const step = values.length === 1 ? 0 : SPARKLINE_WIDTH / (values.length - 1);
  return values.map((value, index) => [
    index * step,
    SPARKLINE_HEIGHT - VERTICAL_PADDING - (value / peak) * drawableHeight,
  ]);
}
