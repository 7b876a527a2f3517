// Charts drawn as SVG by this file alone: the order book's depth, candlesticks with volume, and
// an auction's demand curve. Charts keep a left-to-right price/time axis in both languages
// (as financial charts do in Arabic too); their labels are localised by the caller's
// formatters. Each chart is an <svg role="img"> with a title for screen readers.

import { s } from './dom.js';

const W = 640;

function frame(title, width, height, children) {
  return s('svg', {
    viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title, class: 'chart',
    preserveAspectRatio: 'xMidYMid meet', direction: 'ltr',
  }, s('title', {}, title), children);
}

function scale(d0, d1, r0, r1) {
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

function ticks(lo, hi, count) {
  if (!(hi > lo)) return [lo];
  const step = (hi - lo) / count;
  return Array.from({ length: count + 1 }, (_, i) => lo + step * i);
}

/** Empty-state chart: the frame with a message, so the layout does not jump. */
export function emptyChart(title, message, height = 220) {
  return frame(title, W, height, [
    s('rect', { x: 0, y: 0, width: W, height, class: 'chart-bg' }),
    s('text', { x: W / 2, y: height / 2, 'text-anchor': 'middle', class: 'chart-note' }, message),
  ]);
}

/**
 * Cumulative depth: bids (best first, i.e. descending price) grow to the left of the mid,
 * asks (ascending) to the right. levels: [{price: Number, quantity: Number}].
 */
export function depthChart(title, bids, asks, fmtPrice, fmtQty, emptyText) {
  const height = 240;
  const pad = { l: 76, r: 16, t: 12, b: 28 };
  if (!bids.length && !asks.length) return emptyChart(title, emptyText, height);
  const cum = (levels) => {
    let total = 0;
    return levels.map((l) => { total += l.quantity; return { price: l.price, total }; });
  };
  const b = cum(bids);
  const a = cum(asks);
  const prices = [...b, ...a].map((p) => p.price);
  const lo = Math.min(...prices);
  const hi = Math.max(...prices);
  const padPrice = (hi - lo) * 0.05 || hi * 0.01 || 1;
  const x = scale(lo - padPrice, hi + padPrice, pad.l, W - pad.r);
  const maxQ = Math.max(...b.map((p) => p.total), ...a.map((p) => p.total), 1);
  const y = scale(0, maxQ, height - pad.b, pad.t);
  const area = (points, sideSign) => {
    if (!points.length) return null;
    let d = `M${x(points[0].price)},${y(0)}`;
    let prevY = y(0);
    for (const p of points) {
      d += ` L${x(p.price)},${prevY} L${x(p.price)},${y(p.total)}`;
      prevY = y(p.total);
    }
    const edge = sideSign < 0 ? x(lo - padPrice) : x(hi + padPrice);
    d += ` L${edge},${prevY} L${edge},${y(0)} Z`;
    return d;
  };
  const grid = ticks(0, maxQ, 4).map((q) => [
    s('line', { x1: pad.l, x2: W - pad.r, y1: y(q), y2: y(q), class: 'grid' }),
    s('text', { x: pad.l - 6, y: y(q) + 4, 'text-anchor': 'end', class: 'axis' }, fmtQty(Math.round(q))),
  ]);
  const xt = ticks(lo, hi, 4).map((p) => s('text', { x: x(p), y: height - 8, 'text-anchor': 'middle', class: 'axis' }, fmtPrice(p)));
  return frame(title, W, height, [
    s('rect', { x: 0, y: 0, width: W, height, class: 'chart-bg' }),
    grid, xt,
    b.length ? s('path', { d: area(b, -1), class: 'depth-bid' }) : null,
    a.length ? s('path', { d: area(a, 1), class: 'depth-ask' }) : null,
  ]);
}

/**
 * Candlesticks over volume bars. candles: [{t: ms, open, high, low, close, volume}] (numbers),
 * oldest first.
 */
export function candleChart(title, candles, fmtPrice, fmtQty, fmtTime, emptyText) {
  const height = 300;
  const pad = { l: 76, r: 16, t: 12, b: 28 };
  const volH = 70;
  if (!candles.length) return emptyChart(title, emptyText, height);
  const lo = Math.min(...candles.map((c) => c.low));
  const hi = Math.max(...candles.map((c) => c.high));
  const priceBottom = height - pad.b - volH - 8;
  const y = scale(lo - (hi - lo) * 0.05 - 0.01, hi + (hi - lo) * 0.05 + 0.01, priceBottom, pad.t);
  const maxV = Math.max(...candles.map((c) => c.volume), 1);
  const yv = scale(0, maxV, height - pad.b, height - pad.b - volH);
  const n = candles.length;
  const slot = (W - pad.l - pad.r) / Math.max(n, 1);
  const bodyW = Math.max(1, Math.min(14, slot * 0.7));
  const cx = (i) => pad.l + slot * (i + 0.5);
  const shapes = candles.map((c, i) => {
    const up = c.close >= c.open;
    const cls = up ? 'candle-up' : 'candle-down';
    const top = y(Math.max(c.open, c.close));
    const bottom = y(Math.min(c.open, c.close));
    return s('g', { class: cls },
      s('title', {}, `${fmtTime(c.t)} O ${fmtPrice(c.open)} H ${fmtPrice(c.high)} L ${fmtPrice(c.low)} C ${fmtPrice(c.close)} V ${fmtQty(c.volume)}`),
      s('line', { x1: cx(i), x2: cx(i), y1: y(c.high), y2: y(c.low), class: 'wick' }),
      s('rect', { x: cx(i) - bodyW / 2, y: top, width: bodyW, height: Math.max(1, bottom - top), class: 'body' }),
      s('rect', { x: cx(i) - bodyW / 2, y: yv(c.volume), width: bodyW, height: Math.max(0, yv(0) - yv(c.volume)), class: 'volume' }));
  });
  const grid = ticks(lo, hi, 4).map((p) => [
    s('line', { x1: pad.l, x2: W - pad.r, y1: y(p), y2: y(p), class: 'grid' }),
    s('text', { x: pad.l - 6, y: y(p) + 4, 'text-anchor': 'end', class: 'axis' }, fmtPrice(p)),
  ]);
  const labelEvery = Math.max(1, Math.ceil(n / 5));
  const xt = candles.map((c, i) => (i % labelEvery === 0
    ? s('text', { x: cx(i), y: height - 8, 'text-anchor': 'middle', class: 'axis' }, fmtTime(c.t)) : null));
  return frame(title, W, height, [
    s('rect', { x: 0, y: 0, width: W, height, class: 'chart-bg' }),
    grid, xt, shapes,
    s('text', { x: pad.l - 6, y: yv(maxV) + 4, 'text-anchor': 'end', class: 'axis' }, fmtQty(maxV)),
  ]);
}

/**
 * An auction's demand curve: price (vertical) against the cumulative quantity bid at or above
 * it (horizontal), with the clearing price and the quantity offered marked.
 * points: [{price, quantity}] as cumulative demand, any order.
 */
export function demandChart(title, points, clearing, supply, fmtPrice, fmtQty, emptyText) {
  const height = 260;
  const pad = { l: 76, r: 16, t: 12, b: 28 };
  if (!points.length) return emptyChart(title, emptyText, height);
  const pts = [...points].sort((p, q) => q.price - p.price);
  const maxQ = Math.max(...pts.map((p) => p.quantity), supply || 0, 1);
  const lo = Math.min(...pts.map((p) => p.price), clearing ?? Infinity);
  const hi = Math.max(...pts.map((p) => p.price), clearing ?? -Infinity);
  const y = scale(lo - (hi - lo) * 0.1 - 0.01, hi + (hi - lo) * 0.1 + 0.01, height - pad.b, pad.t);
  const x = scale(0, maxQ * 1.05, pad.l, W - pad.r);
  let d = `M${x(0)},${y(pts[0].price)}`;
  for (const p of pts) d += ` L${x(p.quantity)},${y(p.price)}`;
  const last = pts[pts.length - 1];
  d += ` L${x(last.quantity)},${height - pad.b}`;
  const grid = ticks(lo, hi, 4).map((p) => [
    s('line', { x1: pad.l, x2: W - pad.r, y1: y(p), y2: y(p), class: 'grid' }),
    s('text', { x: pad.l - 6, y: y(p) + 4, 'text-anchor': 'end', class: 'axis' }, fmtPrice(p)),
  ]);
  const xt = ticks(0, maxQ, 4).map((q) => s('text', { x: x(q), y: height - 8, 'text-anchor': 'middle', class: 'axis' }, fmtQty(Math.round(q))));
  return frame(title, W, height, [
    s('rect', { x: 0, y: 0, width: W, height, class: 'chart-bg' }),
    grid, xt,
    s('path', { d, class: 'demand' }),
    clearing != null ? s('line', { x1: pad.l, x2: W - pad.r, y1: y(clearing), y2: y(clearing), class: 'clearing' }) : null,
    supply ? s('line', { x1: x(supply), x2: x(supply), y1: pad.t, y2: height - pad.b, class: 'supply' }) : null,
  ]);
}
