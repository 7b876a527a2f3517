// The auction room: the auctions, then one auction's lots with a countdown to the close, my
// sealed bids (place, change, withdraw) and, after the close, each lot's clearing price,
// volume, anonymised demand curve and my allocation. Bids are visible to their owner only.

import { h, add, mount, field, table, formValues } from '../dom.js';
import { t, money, num, date } from '../i18n.js';
import { get, post, patch, del, items, token, currentAccount } from '../api.js';
import { section, loading, empty, toNum, show } from '../view.js';
import { demandChart } from '../charts.js';
import { subscribe } from '../live.js';

const pick = (o, ...keys) => keys.map((k) => o?.[k]).find((v) => v !== undefined && v !== null);
const lotNo = (l, i) => pick(l, 'lot', 'index', 'number') ?? i;
const closesAt = (a) => pick(a, 'closes', 'closes_at');
const opensAt = (a) => pick(a, 'opens', 'opens_at');
const bidId = (b) => pick(b, 'id', 'bid');
const isClosed = (a) => ['closed', 'cleared', 'settled'].includes(a?.status);

export async function render(main, [id], ctx) {
  if (id) return auction(main, id, ctx);
  add(main, h('h1', {}, t('auctions.title')));
  const box = h('div', { id: 'auctions-list' }, loading());
  add(main, section(t('auctions.all'), 'auctions-card', box));
  try {
    const rows = items(await get('/auctions?limit=100'), 'auctions');
    mount(box, rows.length ? table(null,
      [t('auctions.name'), t('auctions.status'), t('auctions.opens'), t('auctions.closes'), t('auctions.lots')],
      rows.map((a) => [h('a', { href: `/auctions/${a.id}`, 'data-link': true }, a.name || `#${a.id}`),
        a.status ? t(`auction_status.${a.status}`) : '—', date(opensAt(a)), date(closesAt(a)),
        num((a.lots || []).length || a.lot_count)]), { id: 'auctions-table' })
      : empty());
  } catch (e) { mount(box, ctx.problem(e)); }
  return undefined;
}

async function auction(main, id, { problem }) {
  const head = h('div', {});
  const lotsBox = h('div', { id: 'lots' }, loading());
  const bidsBox = h('div', { id: 'my-bids' });
  const resultsBox = h('div', { id: 'results' });
  const bidOut = h('div', { 'aria-live': 'polite', id: 'bid-result' });
  const countdown = h('span', { class: 'countdown', id: 'countdown', role: 'timer', 'aria-live': 'off' });
  add(main, head, section(t('auctions.lots'), 'lots-card', lotsBox),
    section(t('auctions.my_bids'), 'bids-card', bidsBox, bidOut),
    section(t('auctions.results'), 'results-card', resultsBox));
  let a = null;
  let timer = null;

  function tick() {
    const end = Date.parse(closesAt(a) || '');
    if (Number.isNaN(end) || isClosed(a)) { countdown.textContent = isClosed(a) ? t('auctions.closed') : ''; return; }
    const ms = Math.max(0, end - Date.now());
    if (ms === 0) { countdown.textContent = t('auctions.awaiting_close'); return; }
    const sec = Math.floor(ms / 1000);
    const parts = [Math.floor(sec / 86400), Math.floor(sec / 3600) % 24, Math.floor(sec / 60) % 60, sec % 60];
    countdown.textContent = t('auctions.closes_in', { d: num(parts[0]), h: num(parts[1]), m: num(parts[2]), s: num(parts[3]) });
  }

  async function load() {
    try {
      a = await get(`/auctions/${encodeURIComponent(id)}`);
    } catch (e) {
      mount(head, h('h1', {}, t('auctions.title')), problem(e));
      mount(lotsBox);
      return;
    }
    mount(head, h('div', { class: 'title-row' }, h('h1', {}, a.name || `#${id}`),
      h('span', { class: 'status', id: 'auction-status' }, a.status ? t(`auction_status.${a.status}`) : '—'), countdown),
    h('p', { class: 'muted' }, `${t('auctions.opens')}: ${date(opensAt(a))} · ${t('auctions.closes')}: ${date(closesAt(a))}`,
      a.rule ? ` · ${t(`auction_rule.${a.rule}`)}` : ''));
    tick();
    const lots = a.lots || [];
    mount(lotsBox, lots.length ? table(null,
      [t('auctions.lot'), t('auctions.instrument'), t('auctions.quantity'), t('auctions.reserve'), t('auctions.min_bid'), t('auctions.increment')],
      lots.map((l, i) => [String(lotNo(l, i)), show('instrument', pick(l, 'symbol', 'instrument')), h('span', { class: 'num' }, num(pick(l, 'quantity', 'quantity_tonnes'))),
        h('span', { class: 'num' }, money(pick(l, 'reserve_price'), pick(l, 'currency', a.currency))),
        h('span', { class: 'num' }, num(pick(l, 'min_bid', 'min_bid_tonnes'))), h('span', { class: 'num' }, num(pick(l, 'increment', 'increment_tonnes')))]), { id: 'lots-table' })
      : empty());
    await Promise.all([loadBids(), loadResults()]);
  }

  // The bid form is built once, so live refreshes of the auction never wipe what is being typed.
  const bidForm = h('form', { class: 'inline', id: 'bid-form' },
    field(t('auctions.lot'), h('input', { name: 'lot', value: '0', inputmode: 'numeric', size: 4, id: 'bid-lot' })),
    field(t('order.account'), h('input', { name: 'account', value: currentAccount() || '', inputmode: 'numeric', size: 6, id: 'bid-account' })),
    field(t('auctions.price'), h('input', { name: 'price', inputmode: 'decimal', size: 8, required: true, id: 'bid-price' })),
    field(t('auctions.quantity'), h('input', { name: 'quantity', inputmode: 'numeric', size: 8, required: true, id: 'bid-quantity' })),
    h('button', { type: 'submit', class: 'primary', id: 'bid-submit' }, t('auctions.place_bid')));
  bidForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = formValues(bidForm);
    try {
      await post(`/auctions/${encodeURIComponent(id)}/bids`, { lot: Number(v.lot), account: Number(v.account), price: v.price, quantity: Number(v.quantity) });
      await load();
      mount(bidOut, h('p', { class: 'notice ok', role: 'status', id: 'bid-placed' }, t('auctions.bid_placed')));
    } catch (e) { mount(bidOut, problem(e)); }
  });
  const bidTable = h('div', {});

  async function loadBids() {
    if (!token()) { mount(bidsBox, empty('trade.orders_login')); return; }
    const bids = a.mine?.bids || [];
    const out = bidOut;
    const lotCurrency = (lot) => pick((a.lots || []).find((l, i) => String(lotNo(l, i)) === String(lot)), 'currency');
    const rows = bids.map((b) => {
      const price = h('input', { value: pick(b, 'price') ?? '', size: 8, 'aria-label': t('auctions.price') });
      const qty = h('input', { value: pick(b, 'quantity', 'quantity_tonnes') ?? '', size: 8, 'aria-label': t('auctions.quantity') });
      const change = h('form', { class: 'inline' }, price, qty, h('button', { type: 'submit', disabled: isClosed(a) }, t('auctions.change_bid')));
      change.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        try { await patch(`/auctions/${encodeURIComponent(id)}/bids/${bidId(b)}`, { price: price.value.trim(), quantity: Number(qty.value) }); await load(); } catch (e) { mount(out, problem(e)); }
      });
      return [String(bidId(b)), String(pick(b, 'lot') ?? '—'), h('span', { class: 'num' }, money(pick(b, 'price'), b.currency || lotCurrency(b.lot))), h('span', { class: 'num' }, num(pick(b, 'quantity', 'quantity_tonnes'))),
        h('div', { class: 'actions' }, change, h('button', { type: 'button', class: 'danger', disabled: isClosed(a), onclick: async () => {
          try { await del(`/auctions/${encodeURIComponent(id)}/bids/${bidId(b)}`); await load(); } catch (e) { mount(out, problem(e)); }
        } }, t('auctions.withdraw_bid')))];
    });
    mount(bidTable, rows.length ? table(null, [t('auctions.bid'), t('auctions.lot'), t('auctions.price'), t('auctions.quantity'), t('trade.actions')], rows, { id: 'bids-table' }) : empty('auctions.no_bids'));
    if (isClosed(a)) bidForm.remove();
    if (bidsBox.firstChild !== bidTable) mount(bidsBox, bidTable, isClosed(a) ? null : bidForm);
  }

  async function loadResults() {
    if (!isClosed(a)) { mount(resultsBox, h('p', { class: 'muted' }, t('auctions.results_after_close'))); return; }
    try {
      const doc = await get(`/auctions/${encodeURIComponent(id)}/results`);
      const mine = doc.mine?.allocations || [];
      const offered = new Map((a.lots || []).map((l, i) => [String(lotNo(l, i)), Number(pick(l, 'quantity_tonnes', 'quantity') || 0)]));
      mount(resultsBox, ...(doc.lots || []).map((l, i) => {
        const n = lotNo(l, i);
        const r = l.result || l;
        const currency = pick(l, 'currency') || pick(r, 'currency');
        const curve = (pick(r, 'demand_curve', 'demand') || []).map((p) => (Array.isArray(p)
          ? { price: toNum(p[0]), quantity: Number(p[1]) }
          : { price: toNum(pick(p, 'price')), quantity: Number(pick(p, 'cumulative_tonnes', 'quantity', 'quantity_tonnes')) }));
        const clearing = pick(r, 'clearing_price');
        const alloc = mine.filter((x) => String(x.lot) === String(n));
        const allocText = alloc.length
          ? alloc.map((x) => t('auctions.allocation', { quantity: num(x.quantity), price: money(x.price, currency), fee: money(x.fee, currency) })).join('; ')
          : t('auctions.no_allocation');
        return h('div', { class: 'lot-result', 'data-lot': n },
          h('h3', {}, t('auctions.lot_n', { n }), l.symbol ? ` · ${l.symbol}` : ''),
          h('dl', { class: 'details' },
            h('dt', {}, t('auctions.clearing_price')), h('dd', { class: 'clearing-price' }, clearing == null ? t('auctions.no_clearing') : money(clearing, currency)),
            h('dt', {}, t('auctions.volume')), h('dd', { class: 'volume' }, num(pick(r, 'sold_tonnes', 'sold', 'volume'))),
            h('dt', {}, t('auctions.bidders')), h('dd', {}, num(pick(r, 'bidders'))),
            h('dt', {}, t('auctions.my_allocation')), h('dd', { class: 'my-allocation' }, token() ? allocText : t('state.login_needed'))),
          h('div', { class: 'chart-box' }, demandChart(t('auctions.demand_curve'), curve, clearing == null ? null : toNum(clearing), offered.get(String(n)) || 0,
            (p) => money(String(p), null), (q) => num(q), t('auctions.no_bids_curve'))));
      }));
    } catch (e) {
      mount(resultsBox, problem(e));
    }
  }

  await load();
  timer = setInterval(tick, 1000);
  const stop = subscribe(`auction:${id}`, load);
  return () => { clearInterval(timer); stop(); };
}
