// Markets: every instrument with its last price, change and volume (from its daily candles),
// and the baskets with their criteria.

import { h, add, mount, table } from '../dom.js';
import { t, money, num } from '../i18n.js';
import { get, items, notAvailable } from '../api.js';
import { section, loading, empty, normCandle, details } from '../view.js';
import { subscribe } from '../live.js';

const SUBSCRIPTIONS_MAX = 20;

/** A basket's criteria as a list: only the constraints it sets. */
function criteria(c) {
  const rows = Object.entries(c || {}).filter(([, v]) => !(v === null || v === false || (Array.isArray(v) && !v.length)));
  if (!rows.length) return h('p', { class: 'muted' }, t('markets.any_credit'));
  return details(Object.fromEntries(rows));
}

async function dayStats(m) {
  if (m.last_price !== undefined) {
    return { last: m.last_price, change: m.change, volume: m.volume ?? m.volume_tonnes };
  }
  try {
    const doc = await get(`/markets/${encodeURIComponent(m.id)}/candles?interval=1d&limit=2`);
    const candles = items(doc, 'candles').map(normCandle).sort((a, b) => a.t - b.t);
    if (!candles.length) return { last: null };
    const last = candles[candles.length - 1];
    const prev = candles.length > 1 ? candles[candles.length - 2].close : last.open;
    const decimals = (String(last.raw.close ?? '').split('.')[1] || '').length || 2;
    return {
      last: last.raw.close ?? last.raw.c,
      change: (last.close - prev).toFixed(decimals),
      changeRatio: prev ? (last.close - prev) / prev : 0,
      volume: last.volume,
    };
  } catch (e) {
    if (notAvailable(e)) return { last: null, unavailable: true };
    throw e;
  }
}

export async function render(main, _params, { problem }) {
  const list = h('div', {}, loading());
  const baskets = h('div', {}, loading());
  add(main, h('h1', {}, t('markets.title')),
    section(t('markets.instruments'), 'instruments', list),
    section(t('markets.baskets'), 'baskets', baskets));

  async function load() {
    try {
      const doc = await get('/markets');
      const rows = items(doc, 'markets');
      if (!rows.length) { mount(list, empty('markets.none')); return []; }
      const stats = await Promise.all(rows.map(dayStats));
      const unavailable = stats.some((s) => s.unavailable);
      mount(list, 
        table(null, [t('markets.symbol'), t('markets.status'), t('markets.last'), t('markets.change'), t('markets.volume'), t('markets.reference')],
          rows.map((m, i) => {
            const s = stats[i];
            const change = s.change == null ? '—' : money(s.change, null);
            return [
              h('a', { href: `/trade/${encodeURIComponent(m.symbol)}`, 'data-link': true, class: 'symbol' }, m.symbol),
              h('span', { class: `status status-${m.status}` }, t(`status.${m.status}`)),
              h('span', { class: 'num' }, s.last == null ? '—' : money(s.last, m.currency)),
              h('span', { class: `num ${Number(s.change) > 0 ? 'up' : Number(s.change) < 0 ? 'down' : ''}` }, change),
              h('span', { class: 'num' }, s.volume == null ? '—' : num(s.volume)),
              h('span', { class: 'num' }, money(m.reference_price, m.currency)),
            ];
          }), { id: 'markets-table' }),
        unavailable ? h('p', { class: 'muted', 'data-state': 'not-available' }, t('markets.stats_unavailable')) : null);
      return rows.map((m) => m.symbol);
    } catch (e) {
      mount(list, problem(e));
      return [];
    }
  }

  async function loadBaskets() {
    try {
      const rows = items(await get('/baskets'), 'baskets');
      if (!rows.length) { mount(baskets, empty('markets.no_baskets')); return; }
      // A basket trades as the instrument listed on it.
      let instruments = [];
      try { instruments = items(await get('/instruments?limit=100'), 'instruments'); } catch { /* links only */ }
      mount(baskets, h('ul', { class: 'plain', id: 'baskets-list' }, rows.map((b) => {
        const listed = instruments.filter((i) => String(i.basket) === String(b.id));
        return h('li', { class: 'basket' },
          h('h3', {}, b.name || `#${b.id}`),
          criteria(b.criteria),
          b.free_deposited_tonnes !== undefined ? h('p', { class: 'muted' }, t('markets.basket_free', { tonnes: num(b.free_deposited_tonnes) })) : null,
          listed.map((i) => h('a', { href: `/trade/${encodeURIComponent(i.symbol)}`, 'data-link': true, class: 'button' }, `${t('markets.trade')} ${i.symbol}`)));
      })));
    } catch (e) {
      mount(baskets, problem(e));
    }
  }

  const symbols = await load();
  await loadBaskets();
  // The table follows every instrument's trades (bounded, so a long list stays cheap).
  const stops = (symbols || []).slice(0, SUBSCRIPTIONS_MAX).map((sym) => subscribe(`trades:${sym}`, load));
  return () => stops.forEach((f) => f());
}
