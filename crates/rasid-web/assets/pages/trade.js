// The trading screen of one instrument: L2 depth with its chart, the trades tape, candlesticks
// with volume, order entry, my open orders (amend, cancel) and my fills — refreshed over the
// WebSocket channels book:SYM, trades:SYM, candles:SYM:INTERVAL, orders and fills.

import { h, add, mount, field, select, table, formValues } from '../dom.js';
import { t, money, num, compact, date } from '../i18n.js';
import { get, post, patch, del, items, token, currentAccount, setCurrentAccount, notAvailable } from '../api.js';
import { section, loading, empty, toNum, normCandle } from '../view.js';
import { depthChart, candleChart, emptyChart } from '../charts.js';
import { subscribe } from '../live.js';

const BOOK_LEVELS = 20;
const TAPE_ROWS = 30;
const CANDLES_MAX = 60;
const SESSION_FILLS_MAX = 100;

// Fills seen in this browser session (from order replies and the fills channel), newest first.
const sessionFills = [];

/**
 * Remembers fills: trade events of an order reply (seen from `account`) or messages of the
 * fills channel (which carry side and liquidity already). One entry per trade and side.
 */
function rememberFills(fills, account) {
  for (const e of fills || []) {
    let fill = e;
    if (e.type === 'trade') {
      const side = String(e.buyer) === String(account) ? 'buy' : 'sell';
      fill = { ...e, side, liquidity: e.aggressor === side ? 'taker' : 'maker' };
    } else if (e.trade === undefined) {
      continue;
    }
    if (sessionFills.some((f) => f.trade === fill.trade && f.side === fill.side)) continue;
    sessionFills.unshift(fill);
  }
  sessionFills.length = Math.min(sessionFills.length, SESSION_FILLS_MAX);
}

export async function render(main, [symbol], { problem }) {
  const enc = encodeURIComponent(symbol);
  let inst = null;
  try {
    const markets = items(await get('/markets'), 'markets');
    inst = markets.find((m) => m.symbol === symbol || String(m.id) === symbol);
  } catch (e) {
    add(main, problem(e));
    return undefined;
  }
  if (!inst) {
    add(main, h('h1', {}, symbol), h('div', { class: 'notice error', role: 'alert' }, t('trade.unknown_instrument')));
    return undefined;
  }
  const cur = inst.currency;
  const fmtP = (p) => money(String(p), null);
  // Axis labels have a fixed width: quantities are shortened there (the book table has them exact).
  const fmtQ = (q) => compact(q);
  const fmtT = (ms) => date(ms);

  const bookBox = h('div', { id: 'book' }, loading());
  const depthBox = h('div', { class: 'chart-box', id: 'depth-chart' });
  const tapeBox = h('div', { id: 'tape' }, loading());
  const candleBox = h('div', { class: 'chart-box', id: 'candle-chart' });
  const ordersBox = h('div', { id: 'my-orders' });
  const fillsBox = h('div', { id: 'my-fills' });
  const entryOut = h('div', { 'aria-live': 'polite', id: 'order-result' });
  let interval = '1m';

  const intervalSel = select('interval', [['1m', t('trade.interval_1m')], ['1h', t('trade.interval_1h')], ['1d', t('trade.interval_1d')]], interval);
  intervalSel.addEventListener('change', () => { interval = intervalSel.value; resubscribeCandles(); loadCandles(); });

  add(main, 
    h('div', { class: 'title-row' },
      h('h1', {}, symbol),
      h('span', { class: `status status-${inst.status}`, id: 'instrument-status' }, t(`status.${inst.status}`)),
      h('span', { class: 'muted' }, `${t('markets.reference')}: ${money(inst.reference_price, cur)}`)),
    h('div', { class: 'trade-grid' },
      section(t('trade.book'), 'book-card', bookBox, depthBox),
      section(t('trade.chart'), 'chart-card', field(t('trade.interval'), intervalSel), candleBox),
      section(t('trade.order_entry'), 'entry-card', orderForm(), entryOut),
      section(t('trade.tape'), 'tape-card', tapeBox),
      section(t('trade.my_orders'), 'orders-card', ordersBox),
      section(t('trade.my_fills'), 'fills-card', fillsBox)));

  async function loadBook() {
    try {
      const b = await get(`/markets/${enc}/book?levels=${BOOK_LEVELS}`);
      const rows = [];
      const asks = [...(b.asks || [])].reverse();
      for (const a of asks) rows.push(['', '', h('span', { class: 'num ask' }, money(a.price, null)), h('span', { class: 'num' }, num(a.quantity)), h('span', { class: 'num muted' }, num(a.orders))]);
      for (const x of b.bids || []) rows.push([h('span', { class: 'num muted' }, num(x.orders)), h('span', { class: 'num' }, num(x.quantity)), h('span', { class: 'num bid' }, money(x.price, null)), '', '']);
      mount(bookBox, (b.bids || []).length + (b.asks || []).length
        ? table(t('trade.book_caption', { currency: cur }), [t('trade.orders'), t('trade.bid_qty'), t('trade.price'), t('trade.ask_qty'), t('trade.orders')], rows, { class: 'book' })
        : empty('trade.book_empty'));
      const lv = (l) => ({ price: toNum(l.price), quantity: Number(l.quantity) });
      mount(depthBox, depthChart(t('trade.depth_chart'), (b.bids || []).map(lv), (b.asks || []).map(lv), fmtP, fmtQ, t('trade.book_empty')));
    } catch (e) {
      mount(bookBox, problem(e));
    }
  }

  async function loadTape() {
    try {
      const rows = items(await get(`/markets/${enc}/trades?limit=${TAPE_ROWS}`), 'trades').slice(0, TAPE_ROWS);
      mount(tapeBox, rows.length
        ? table(null, [t('trade.time'), t('trade.price'), t('trade.quantity'), t('trade.aggressor')], rows.map((r) => [
          date(r.time ?? r.traded_at), h('span', { class: `num ${r.aggressor === 'buy' ? 'bid' : 'ask'}` }, money(r.price, null)),
          h('span', { class: 'num' }, num(r.quantity ?? r.quantity_tonnes)), r.aggressor ? t(`side.${r.aggressor}`) : '—',
        ]), { class: 'tape', id: 'tape-table' })
        : empty('trade.tape_empty'));
    } catch (e) {
      mount(tapeBox, problem(e));
    }
  }

  async function loadCandles() {
    try {
      const doc = await get(`/markets/${enc}/candles?interval=${interval}&limit=${CANDLES_MAX}`);
      const candles = items(doc, 'candles').map(normCandle).filter((c) => !Number.isNaN(c.t)).sort((a, b) => a.t - b.t).slice(-CANDLES_MAX);
      mount(candleBox, candleChart(t('trade.candle_chart'), candles, fmtP, fmtQ, fmtT, t('trade.no_candles')));
    } catch (e) {
      mount(candleBox, notAvailable(e) ? emptyChart(t('trade.candle_chart'), t('state.not_available')) : problem(e));
    }
  }

  function orderForm() {
    const account = currentAccount();
    const priceInput = h('input', { name: 'price', inputmode: 'decimal', id: 'order-price', placeholder: inst.reference_price });
    const typeSel = select('type', [['limit', t('order.limit')], ['market', t('order.market')]], 'limit');
    const retireBox = h('input', { type: 'checkbox', name: 'retire', id: 'order-retire' });
    const beneficiary = h('input', { name: 'beneficiary', id: 'order-beneficiary', disabled: true });
    typeSel.id = 'order-type';
    typeSel.addEventListener('change', () => { priceInput.disabled = typeSel.value === 'market'; });
    retireBox.addEventListener('change', () => { beneficiary.disabled = !retireBox.checked; beneficiary.required = retireBox.checked; });
    const sideSel = select('side', [['buy', t('side.buy')], ['sell', t('side.sell')]], 'buy');
    sideSel.id = 'order-side';
    const tif = select('time_in_force', [['gtc', t('tif.gtc')], ['day', t('tif.day')], ['gtd', t('tif.gtd')], ['ioc', t('tif.ioc')], ['fok', t('tif.fok')]], 'gtc');
    tif.id = 'order-tif';
    const expires = h('input', { name: 'expires_at', type: 'datetime-local', id: 'order-expires', disabled: true });
    tif.addEventListener('change', () => { expires.disabled = tif.value !== 'gtd'; expires.required = tif.value === 'gtd'; });
    const form = h('form', { id: 'order-form', class: 'stack' },
      token() ? null : h('p', { class: 'notice' }, t('state.login_needed')),
      field(t('order.account'), h('input', { name: 'account', id: 'order-account', value: account || '', required: true, inputmode: 'numeric' })),
      field(t('order.side'), sideSel),
      field(t('order.type'), typeSel),
      field(t('order.price', { currency: cur }), priceInput),
      field(t('order.quantity'), h('input', { name: 'quantity', id: 'order-quantity', required: true, inputmode: 'numeric' })),
      field(t('order.tif'), tif),
      field(t('order.expires_at'), expires),
      h('div', { class: 'check' }, h('input', { type: 'checkbox', name: 'post_only', id: 'order-post-only' }), h('label', { for: 'order-post-only' }, t('order.post_only'))),
      h('div', { class: 'check' }, retireBox, h('label', { for: 'order-retire' }, t('order.buy_and_retire'))),
      field(t('order.beneficiary'), beneficiary),
      h('button', { type: 'submit', class: 'primary', id: 'order-submit' }, t('order.submit')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const v = formValues(form);
      mount(entryOut);
      const body = {
        instrument: inst.symbol, account: Number(v.account), side: v.side, quantity: Number(v.quantity),
      };
      if (v.type === 'limit') body.price = v.price;
      if (v.type === 'limit' || v.time_in_force !== 'gtc') body.time_in_force = v.type === 'market' && v.time_in_force === 'gtc' ? 'ioc' : v.time_in_force;
      // datetime-local is in the browser's zone; the API takes RFC 3339 UTC.
      if (v.time_in_force === 'gtd' && v.expires_at) body.expires_at = new Date(v.expires_at).toISOString();
      if (v.post_only) body.post_only = true;
      if (v.retire) body.retire = { beneficiary: v.beneficiary, purpose: 'voluntary' };
      try {
        setCurrentAccount(v.account);
        const doc = await post('/orders', body);
        const events = doc.events || [];
        rememberFills(events, v.account);
        const accepted = events.find((e) => e.type === 'order_accepted');
        const trades = events.filter((e) => e.type === 'trade');
        const filled = trades.reduce((q, e) => q + Number(e.quantity), 0);
        mount(entryOut, h('p', { class: 'notice ok', role: 'status', id: 'order-accepted' },
          t('order.accepted', { id: accepted ? accepted.order : '?', trades: num(trades.length), filled: num(filled) })));
        refreshAll();
      } catch (e) {
        mount(entryOut, problem(e));
      }
    });
    return form;
  }

  async function loadOrders() {
    const account = currentAccount();
    if (!token() || !account) { mount(ordersBox, empty('trade.orders_login')); return; }
    try {
      const rows = items(await get(`/orders?account=${encodeURIComponent(account)}`), 'orders')
        .filter((o) => String(o.instrument) === String(inst.id) || o.instrument === inst.symbol);
      if (!rows.length) { mount(ordersBox, empty('trade.no_orders')); return; }
      mount(ordersBox, 
        table(null, [t('trade.order_id'), t('order.side'), t('trade.price'), t('trade.remaining'), t('order.tif'), t('trade.actions')],
          rows.map((o) => [String(o.id), t(`side.${o.side}`), h('span', { class: 'num' }, money(o.price, null)),
            h('span', { class: 'num' }, `${num(o.remaining)} / ${num(o.quantity)}`), t(`tif.${o.time_in_force}`), orderActions(o)]), { id: 'orders-table' }),
        h('button', { type: 'button', class: 'danger', onclick: cancelAll }, t('trade.cancel_all')));
    } catch (e) {
      mount(ordersBox, problem(e));
    }
  }

  function orderActions(o) {
    const out = h('span', { 'aria-live': 'polite' });
    const price = h('input', { name: 'price', value: o.price, size: 7, 'aria-label': t('trade.new_price') });
    const qty = h('input', { name: 'quantity', value: o.remaining, size: 7, 'aria-label': t('trade.new_quantity') });
    const amend = h('form', { class: 'inline' }, price, qty, h('button', { type: 'submit' }, t('trade.amend')));
    amend.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        await patch(`/orders/${o.id}`, { price: price.value.trim(), quantity: Number(qty.value) });
        refreshAll();
      } catch (e) { mount(out, problem(e)); }
    });
    return h('div', { class: 'actions' }, amend,
      h('button', { type: 'button', class: 'danger', 'data-order': o.id, onclick: async () => {
        try { await del(`/orders/${o.id}`); refreshAll(); } catch (e) { mount(out, problem(e)); }
      } }, t('trade.cancel')), out);
  }

  async function cancelAll() {
    try {
      await del(`/orders?account=${encodeURIComponent(currentAccount())}&instrument=${enc}`);
    } catch (e) {
      add(ordersBox, problem(e));
      return;
    }
    refreshAll();
  }

  function loadFills() {
    const rows = sessionFills.filter((f) => String(f.instrument) === String(inst.id));
    mount(fillsBox, rows.length
      ? table(null, [t('trade.trade_id'), t('order.side'), t('trade.price'), t('trade.quantity'), t('trade.liquidity')], rows.map((f) => [
        String(f.trade), f.side ? t(`side.${f.side}`) : '—', h('span', { class: 'num' }, money(f.price, null)), h('span', { class: 'num' }, num(f.quantity)),
        f.liquidity ? t(`liquidity.${f.liquidity}`) : '—',
      ]), { id: 'fills-table' })
      : empty('trade.no_fills'));
  }

  function refreshAll() {
    loadBook(); loadTape(); loadCandles(); loadOrders(); loadFills();
  }

  await Promise.all([loadBook(), loadTape(), loadCandles(), loadOrders()]);
  loadFills();
  let stopCandles = null;
  function resubscribeCandles() {
    if (stopCandles) stopCandles();
    stopCandles = subscribe(`candles:${symbol}:${interval}`, loadCandles);
  }
  resubscribeCandles();
  const stops = [
    subscribe(`book:${symbol}`, loadBook),
    subscribe(`trades:${symbol}`, loadTape),
  ];
  if (token()) {
    stops.push(subscribe('orders', loadOrders));
    stops.push(subscribe('fills', loadFills, (msg) => {
      const data = msg.data;
      const list = Array.isArray(data) ? data : (data?.items || (data ? [data] : []));
      rememberFills(list, null);
      loadFills();
    }));
  }
  return () => { stops.forEach((f) => f()); if (stopCandles) stopCandles(); };
}
