// Small view helpers shared by the pages: sections, generic key/value rendering for documents
// whose fields vary by route, and reading prices and candles from the API's shapes.

import { h } from './dom.js';
import { t, tOr, num, money, date } from './i18n.js';

export function section(title, id, ...children) {
  const headingId = `${id}-h`;
  return h('section', { class: 'card', id, 'aria-labelledby': headingId }, h('h2', { id: headingId }, title), children);
}

export function loading() {
  return h('p', { class: 'muted', role: 'status' }, t('state.loading'));
}

export function empty(key = 'state.empty') {
  return h('p', { class: 'muted', 'data-state': 'empty' }, t(key));
}

/** A decimal string ("37.50") or number as a Number, for charts only (display stays exact). */
export function toNum(v) {
  if (v === undefined || v === null || v === '') return NaN;
  return typeof v === 'number' ? v : Number(String(v));
}

/** One candle in the API's shape (field names tolerated in two spellings) as numbers. */
export function normCandle(c) {
  const time = c.time ?? c.start ?? c.open_time ?? c.t ?? c.bucket;
  return {
    t: typeof time === 'number' ? time : Date.parse(time),
    open: toNum(c.open ?? c.o), high: toNum(c.high ?? c.h), low: toNum(c.low ?? c.l),
    close: toNum(c.close ?? c.c), volume: toNum(c.volume ?? c.volume_tonnes ?? c.v ?? 0),
    raw: c,
  };
}

/** A value for display: ids and counts as numbers, times as dates, nested values flattened. */
export function show(key, value) {
  if (value === null || value === undefined || value === '') return '—';
  if (typeof value === 'boolean') return value ? t('common.yes') : t('common.no');
  if (typeof value === 'number') return num(value);
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'object' ? compact(v) : show(key, v))).join(', ');
  if (typeof value === 'object') return compact(value);
  if (/(^|_)(time|at|opens|closes|created)(_|$)/.test(key) && /^\d{4}-\d\d-\d\dT/.test(value)) return date(value);
  return String(value);
}

function compact(o) {
  if (o && typeof o === 'object' && 'first' in o && 'last' in o) return `${o.first}–${o.last}`;
  return Object.entries(o).map(([k, v]) => `${tOr(`field.${k}`, k)}: ${typeof v === 'object' && v !== null ? compact(v) : v}`).join('; ');
}

/** A definition list of an object's fields, with translated names where known. */
export function details(obj, skip = []) {
  return h('dl', { class: 'details' }, Object.entries(obj || {})
    .filter(([k]) => !skip.includes(k))
    .map(([k, v]) => [h('dt', {}, tOr(`field.${k}`, k)), h('dd', {}, show(k, v))]));
}

export { money, num, date };
