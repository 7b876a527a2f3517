// The auction room: the auctions, then one auction's lots with a countdown to the close, my
// sealed bids (place, change, withdraw) and, after the close, each lot's clearing price,
// volume, anonymised demand curve and my allocation. Bids are visible to their owner only.

import { h, field, table, formValues } from '../dom.js';
import { t, money, num, date } from '../i18n.js';
import { get, post, patch, del, items, token, currentAccount, notAvailable } from '../api.js';
import { section, loading, empty, toNum, show } from '../view.js';
import { demandChart } from '../charts.js';
import { subscribe } from '../live.js';

const pick = (o, ...keys) => keys.map((k) => o?.[k]).find((v) => v !== undefined && v !== null);
const lotNo = (l, i) => pick(l, 'lot', 'index', 'number') ?? i;
const closesAt = (a) => pick(a, 'closes_at', 'close_time', 'closes');
const isClosed = (a) => ['closed', 'cleared', 'settled'].includes(a?.status);

export async function render(main, [id], ctx) {
  if (id) return auction(main, id, ctx);
  main.append(h('h1', {}, t('auctions.title')));
  const box = h('div', { id: 'auctions-list' }, loading());
  main.append(section(t('auctions.all'), 'auctions-card', box));
  try {
    const rows = items(await get('/auctions?limit=100'), 'auctions');
    box.replaceChildren(rows.length ? table(null,
      [t('auctions.name'), t('auctions.status'), t('auctions.opens'), t('auctions.closes'), t('auctions.lots')],
      rows.map((a) => [h('a', { href: `/auctions/${a.id}`, 'data-link': true }, a.name || `#${a.id}`),
        a.status ? t(`auction_status.${a.status}`) : '—', date(pick(a, 'opens_at', 'open_time')), date(closesAt(a)),
        num((a.lots || []).length || a.lot_count)]), { id: 'auctions-table' })
      : empty());
  } catch (e) { box.replaceChildren(ctx.problem(e)); }
  return undefined;
}

async function auction(main, id, { problem }) {
  const head = h('div', {});
  const lotsBox = h('div', { id: 'lots' }, loading());
  const bidsBox = h('div', { id: 'my-bids' });
  const resultsBox = h('div', { id: 'results' });
  const countdown = h('span', { class: 'countdown', id: 'countdown', role: 'timer', 'aria-live': 'off' });
  main.append(head, section(t('auctions.lots'), 'lots-card', lotsBox),
    section(t('auctions.my_bids'), 'bids-card', bidsBox),
    section(t('auctions.results'), 'results-card', resultsBox));
  let a = null;
  let timer = null;

  function tick() {
    const end = Date.parse(closesAt(a) || '');
    if (Number.isNaN(end) || isClosed(a)) { countdown.textContent = isClosed(a) ? t('auctions.closed') : ''; return; }
    const ms = Math.max(0, end - Date.now());
    const sec = Math.floor(ms / 1000);
    const parts = [Math.floor(sec / 86400), Math.floor(sec / 3600) % 24, Math.floor(sec / 60) % 60, sec % 60];
    countdown.textContent = t('auctions.closes_in', { d: num(parts[0]), h: num(parts[1]), m: num(parts[2]), s: num(parts[3]) });
  }

  async function load() {
    try {
      a = await get(`/auctions/${encodeURIComponent(id)}`);
    } catch (e) {
      head.replaceChildren(h('h1', {}, t('auctions.title')), problem(e));
      lotsBox.replaceChildren();
      return;
    }
    head.replaceChildren(h('div', { class: 'title-row' }, h('h1', {}, a.name || `#${id}`),
      h('span', { class: 'status', id: 'auction-status' }, a.status ? t(`auction_status.${a.status}`) : '—'), countdown),
    h('p', { class: 'muted' }, `${t('auctions.opens')}: ${date(pick(a, 'opens_at', 'open_time'))} · ${t('auctions.closes')}: ${date(closesAt(a))}`,
      a.rule ? ` · ${t(`auction_rule.${a.rule}`)}` : ''));
    tick();
    const lots = a.lots || [];
    lotsBox.replaceChildren(lots.length ? table(null,
      [t('auctions.lot'), t('auctions.instrument'), t('auctions.quantity'), t('auctions.reserve'), t('auctions.min_bid'), t('auctions.increment')],
      lots.map((l, i) => [String(lotNo(l, i)), show('instrument', pick(l, 'symbol', 'instrument')), h('span', { class: 'num' }, num(pick(l, 'quantity', 'quantity_tonnes'))),
        h('span', { class: 'num' }, money(pick(l, 'reserve_price'), pick(l, 'currency', a.currency))),
        h('span', { class: 'num' }, num(pick(l, 'min_bid', 'min_bid_tonnes'))), h('span', { class: 'num' }, num(pick(l, 'increment', 'increment_tonnes')))]), { id: 'lots-table' })
      : empty());
    await Promise.all([loadBids(), loadResults()]);
  }

  async function loadBids() {
    if (!token()) { bidsBox.replaceChildren(empty('trade.orders_login')); return; }
    const bids = a.my_bids || a.bids || [];
    const out = h('div', { 'aria-live': 'polite', id: 'bid-result' });
    const form = h('form', { class: 'inline', id: 'bid-form' },
      field(t('auctions.lot'), h('input', { name: 'lot', value: String(lotNo((a.lots || [])[0] || {}, 0)), inputmode: 'numeric', size: 4, id: 'bid-lot' })),
      field(t('order.account'), h('input', { name: 'account', value: currentAccount() || '', inputmode: 'numeric', size: 6, id: 'bid-account' })),
      field(t('auctions.price'), h('input', { name: 'price', inputmode: 'decimal', size: 8, required: true, id: 'bid-price' })),
      field(t('auctions.quantity'), h('input', { name: 'quantity', inputmode: 'numeric', size: 8, required: true, id: 'bid-quantity' })),
      h('button', { type: 'submit', class: 'primary', id: 'bid-submit', disabled: isClosed(a) }, t('auctions.place_bid')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const v = formValues(form);
      try {
        await post(`/auctions/${encodeURIComponent(id)}/bids`, { lot: Number(v.lot), account: Number(v.account), price: v.price, quantity: Number(v.quantity) });
        out.replaceChildren(h('p', { class: 'notice ok', role: 'status', id: 'bid-placed' }, t('auctions.bid_placed')));
        await load();
      } catch (e) { out.replaceChildren(problem(e)); }
    });
    const rows = bids.map((b) => {
      const price = h('input', { value: pick(b, 'price') ?? '', size: 8, 'aria-label': t('auctions.price') });
      const qty = h('input', { value: pick(b, 'quantity', 'quantity_tonnes') ?? '', size: 8, 'aria-label': t('auctions.quantity') });
      const change = h('form', { class: 'inline' }, price, qty, h('button', { type: 'submit', disabled: isClosed(a) }, t('auctions.change_bid')));
      change.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        try { await patch(`/auctions/${encodeURIComponent(id)}/bids/${b.id}`, { price: price.value.trim(), quantity: Number(qty.value) }); await load(); } catch (e) { out.replaceChildren(problem(e)); }
      });
      return [String(b.id), String(pick(b, 'lot') ?? '—'), h('span', { class: 'num' }, money(pick(b, 'price'), b.currency)), h('span', { class: 'num' }, num(pick(b, 'quantity', 'quantity_tonnes'))),
        h('div', { class: 'actions' }, change, h('button', { type: 'button', class: 'danger', disabled: isClosed(a), onclick: async () => {
          try { await del(`/auctions/${encodeURIComponent(id)}/bids/${b.id}`); await load(); } catch (e) { out.replaceChildren(problem(e)); }
        } }, t('auctions.withdraw_bid')))];
    });
    bidsBox.replaceChildren(rows.length ? table(null, [t('auctions.bid'), t('auctions.lot'), t('auctions.price'), t('auctions.quantity'), t('trade.actions')], rows, { id: 'bids-table' }) : empty('auctions.no_bids'),
      isClosed(a) ? null : form, out);
  }

  async function loadResults() {
    if (!isClosed(a)) { resultsBox.replaceChildren(h('p', { class: 'muted' }, t('auctions.results_after_close'))); return; }
    try {
      const doc = await get(`/auctions/${encodeURIComponent(id)}/results`);
      const lots = doc.lots || items(doc, 'lots');
      resultsBox.replaceChildren(...lots.map((l, i) => {
        const currency = pick(l, 'currency', doc.currency, a.currency);
        const curve = (pick(l, 'demand_curve', 'demand') || []).map((p) => (Array.isArray(p)
          ? { price: toNum(p[0]), quantity: Number(p[1]) } : { price: toNum(pick(p, 'price')), quantity: Number(pick(p, 'quantity', 'quantity_tonnes', 'cumulative_tonnes')) }));
        const clearing = pick(l, 'clearing_price');
        const mine = pick(l, 'my_allocation', 'allocation', 'allocations');
        return h('div', { class: 'lot-result', 'data-lot': lotNo(l, i) },
          h('h3', {}, t('auctions.lot_n', { n: lotNo(l, i) })),
          h('dl', { class: 'details' },
            h('dt', {}, t('auctions.clearing_price')), h('dd', { class: 'clearing-price' }, clearing == null ? t('auctions.no_clearing') : money(clearing, currency)),
            h('dt', {}, t('auctions.volume')), h('dd', {}, num(pick(l, 'sold', 'sold_tonnes', 'volume', 'volume_tonnes'))),
            h('dt', {}, t('auctions.bidders')), h('dd', {}, num(pick(l, 'bidders'))),
            h('dt', {}, t('auctions.my_allocation')), h('dd', { class: 'my-allocation' }, mine == null ? '—' : show('allocation', mine))),
          demandChart(t('auctions.demand_curve'), curve, clearing == null ? null : toNum(clearing), Number(pick(l, 'quantity', 'offered_tonnes', 'quantity_tonnes') || 0),
            (p) => money(String(p), null), (q) => num(q), t('auctions.no_bids_curve')));
      }));
    } catch (e) {
      resultsBox.replaceChildren(notAvailable(e) ? problem(e) : problem(e));
    }
  }

  await load();
  timer = setInterval(tick, 1000);
  const stop = subscribe(`auction:${id}`, load);
  return () => { clearInterval(timer); stop(); };
}
