// The operator's and registrar's consoles: members and users, instruments (list, halt, resume),
// baskets, auctions, projects and issuances with labels. Each form posts to its /v1 route; the
// API decides who may (deny by default) and the page shows its answer.

import { h, add, mount, field, select, table, formValues } from '../dom.js';
import { t, tOr, money } from '../i18n.js';
import { get, post, items, token, role } from '../api.js';
import { section, loading, empty, show } from '../view.js';

const VIEWS = ['members', 'instruments', 'baskets', 'auctions', 'registry'];

/** A form from a field list: [name, label key, kind] with kind 'text' | 'number' | [options]. */
function actionForm(id, titleKey, fields, submit, problem) {
  const out = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'stack', id },
    fields.map(([name, key, kind]) => field(t(key), Array.isArray(kind)
      ? select(name, kind.map((o) => [o, tOr(`option.${o}`, o)]), kind[0])
      : h('input', { name, inputmode: kind === 'number' ? 'numeric' : undefined, required: kind !== 'optional' }))),
    h('button', { type: 'submit', class: 'primary' }, t('admin.submit')), out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const doc = await submit(formValues(form));
      const evs = (doc?.events || []).map((e) => Object.entries(e).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' '));
      mount(out, h('p', { class: 'notice ok', role: 'status' }, t('admin.done'), evs.length ? ` — ${evs.join('; ')}` : ''));
    } catch (e) { mount(out, problem(e)); }
  });
  return section(t(titleKey), id.replace(/-form$/, '-card'), form);
}

const n = (v) => (v === '' || v === undefined ? undefined : Number(v));
const list = (v) => (v ? v.split(',').map((x) => x.trim()).filter(Boolean) : []);

export async function render(main, [view = 'members'], { problem }) {
  if (!VIEWS.includes(view)) view = 'members';
  add(main, h('h1', {}, t('admin.title')),
    h('nav', { class: 'tabs', 'aria-label': t('admin.views') }, h('ul', {}, VIEWS.map((v) => h('li', {},
      h('a', { href: `/admin/${v}`, 'data-link': true, 'aria-current': v === view ? 'page' : false }, t(`admin.${v}`)))))));
  if (!token()) { add(main, h('div', { class: 'notice' }, t('state.login_needed'))); return undefined; }
  if (role() === 'member') { add(main, h('div', { class: 'notice' }, t('admin.staff_only'))); return undefined; }
  const box = h('div', { class: 'grid-2', id: `admin-${view}` });
  add(main, box);

  if (view === 'members') {
    const orgs = h('div', {}, loading());
    add(box, section(t('admin.organizations'), 'orgs-card', orgs),
      actionForm('org-form', 'admin.new_org', [['name', 'admin.name', 'text'], ['role', 'admin.role', ['member', 'registrar', 'auditor', 'operator']]],
        (v) => post('/organizations', { name: v.name, role: v.role }), problem),
      actionForm('user-form', 'admin.new_user', [['username', 'login.username', 'text'], ['password', 'login.password', 'text'], ['organization', 'admin.organization', 'number']],
        (v) => post('/users', { username: v.username, password: v.password, organization: n(v.organization) }), problem),
      actionForm('account-form', 'admin.new_account', [['organization', 'admin.organization', 'number'], ['name', 'admin.name', 'text']],
        (v) => post('/accounts', { organization: n(v.organization), name: v.name }), problem),
      actionForm('deposit-form', 'admin.deposit', [['account', 'order.account', 'number'], ['currency', 'account.currency', ['SAR', 'USD', 'AED', 'KZT']], ['amount', 'admin.amount', 'text']],
        (v) => post('/cash/deposits', { account: n(v.account), currency: v.currency, amount: v.amount }), problem));
    try {
      const rows = items(await get('/organizations?limit=100'), 'organizations');
      mount(orgs, rows.length ? table(null, [t('registry.id'), t('admin.name'), t('admin.role')],
        rows.map((o) => [String(o.id), o.name, o.role ? t(`role.${o.role}`) : '—'])) : empty());
    } catch (e) { mount(orgs, problem(e)); }
  }

  if (view === 'instruments') {
    const list = h('div', {}, loading());
    add(box, section(t('admin.instruments'), 'instruments-card', list),
      actionForm('instrument-form', 'admin.new_instrument', [['symbol', 'markets.symbol', 'text'], ['project', 'registry.project', 'optional'], ['vintage', 'registry.vintage', 'optional'],
        ['basket', 'admin.basket', 'optional'], ['currency', 'account.currency', ['SAR', 'USD', 'AED', 'KZT']], ['tick', 'admin.tick', 'text'], ['lot_tonnes', 'admin.lot', 'number'],
        ['band_bps', 'admin.band_bps', 'number'], ['reference_price', 'markets.reference', 'text']],
      (v) => post('/instruments', { symbol: v.symbol, project: n(v.project), vintage: n(v.vintage), basket: n(v.basket), currency: v.currency, tick: v.tick,
        lot_tonnes: n(v.lot_tonnes), band_bps: n(v.band_bps), reference_price: v.reference_price }), problem));
    const load = async () => {
      try {
        const rows = items(await get('/markets'), 'markets');
        mount(list, rows.length ? table(null, [t('markets.symbol'), t('markets.status'), t('markets.reference'), t('trade.actions')],
          rows.map((m) => [m.symbol, t(`status.${m.status}`), money(m.reference_price, m.currency),
            h('div', { class: 'actions' }, ['halt', 'resume'].map((act) => h('button', { type: 'button', onclick: async () => {
              try { await post(`/instruments/${m.id}/${act}`); load(); } catch (e) { add(list, problem(e)); }
            } }, t(`admin.${act}`))))])) : empty());
      } catch (e) { mount(list, problem(e)); }
    };
    await load();
  }

  if (view === 'baskets') {
    const list = h('div', {}, loading());
    add(box, section(t('markets.baskets'), 'baskets-card', list),
      actionForm('basket-form', 'admin.new_basket', [['name', 'admin.name', 'text'], ['programs', 'admin.programs', 'optional'], ['places', 'admin.places', 'optional'],
        ['effects', 'admin.effects', 'optional'], ['vintage_min', 'admin.vintage_from', 'optional'], ['vintage_max', 'admin.vintage_to', 'optional'],
        ['ccp', 'label.ccp', ['false', 'true']], ['article6_authorised', 'label.article6', ['false', 'true']]],
      (v) => post('/baskets', { name: v.name, criteria: {
        programs: list(v.programs), places: list(v.places), effects: list(v.effects),
        vintage_min: n(v.vintage_min), vintage_max: n(v.vintage_max), ccp: v.ccp === 'true', article6_authorised: v.article6_authorised === 'true' } }), problem));
    try {
      const rows = items(await get('/baskets'), 'baskets');
      mount(list, rows.length ? table(null, [t('registry.id'), t('markets.symbol'), t('admin.criteria')],
        rows.map((b) => [String(b.id), b.name || '—', show('criteria', Object.fromEntries(Object.entries(b.criteria || {})
          .filter(([, x]) => !(x === null || x === false || (Array.isArray(x) && !x.length)))))])) : empty());
    } catch (e) { mount(list, problem(e)); }
  }

  if (view === 'auctions') {
    const list = h('div', {}, loading());
    add(box, section(t('auctions.all'), 'admin-auctions-card', list),
      actionForm('auction-form', 'admin.new_auction', [['name', 'admin.name', 'text'], ['rule', 'admin.rule', ['uniform_price', 'pay_as_bid']], ['closes_at', 'admin.closes_at', 'text'],
        ['instrument', 'auctions.instrument', 'text'], ['seller', 'admin.seller_account', 'number'], ['quantity', 'auctions.quantity', 'number'], ['reserve_price', 'auctions.reserve', 'text'],
        ['min_bid', 'auctions.min_bid', 'number'], ['increment', 'auctions.increment', 'number']],
      (v) => post('/auctions', { name: v.name, rule: v.rule, closes_at: v.closes_at,
        lots: [{ instrument: v.instrument, seller: n(v.seller), quantity: n(v.quantity), reserve_price: v.reserve_price, min_bid: n(v.min_bid), increment: n(v.increment) }] }), problem));
    const load = async () => {
      try {
        const rows = items(await get('/auctions?limit=100'), 'auctions');
        mount(list, rows.length ? table(null, [t('auctions.name'), t('auctions.status'), t('trade.actions')],
          rows.map((a) => [h('a', { href: `/auctions/${a.id}`, 'data-link': true }, a.name || `#${a.id}`), a.status ? t(`auction_status.${a.status}`) : '—',
            h('button', { type: 'button', onclick: async () => {
              try { await post(`/auctions/${a.id}/close`); load(); } catch (e) { add(list, problem(e)); }
            } }, t('admin.close_auction'))])) : empty());
      } catch (e) { mount(list, problem(e)); }
    };
    await load();
  }

  if (view === 'registry') {
    add(box, 
      actionForm('project-form', 'admin.new_project', [['external_id', 'registry.external_id', 'text'], ['name', 'registry.name', 'text'],
        ['program', 'registry.program', ['NATIVE', 'VCS', 'GS', 'ACR', 'CAR', 'ART', 'PURO', 'ISOMETRIC', 'CERCARBONO']], ['country', 'registry.country', 'text'],
        ['effect', 'admin.effect', ['removal', 'reduction', 'mixed']], ['basis', 'admin.basis', ['nature', 'technology']], ['developer', 'admin.developer', 'number']],
      (v) => post('/projects', { external_id: v.external_id, name: v.name, program: v.program, country: v.country, effect: v.effect, basis: v.basis, developer: n(v.developer) }), problem),
      actionForm('issuance-form', 'admin.new_issuance', [['project', 'registry.project', 'number'], ['vintage', 'registry.vintage', 'number'], ['quantity', 'registry.issued', 'number'],
        ['buffer', 'admin.buffer', 'number'], ['to_account', 'account.to_account', 'number']],
      (v) => post('/issuances', { project: n(v.project), vintage: n(v.vintage), quantity: n(v.quantity), buffer: n(v.buffer), to_account: n(v.to_account) }), problem),
      actionForm('labels-form', 'admin.set_labels', [['issuance', 'account.issuance', 'number'], ['corsia', 'label.corsia', ['none', 'pilot', 'first', 'second']], ['ccp', 'label.ccp', ['false', 'true']],
        ['authorization_ref', 'admin.loa', 'optional'], ['ca_status', 'admin.ca_status', ['not_required', 'committed', 'pending', 'completed']]],
      (v) => post(`/issuances/${n(v.issuance)}/labels`, { corsia: v.corsia === 'none' ? null : v.corsia, ccp: v.ccp === 'true',
        article6: v.authorization_ref ? { authorization_ref: v.authorization_ref, ca_status: v.ca_status } : null }), problem));
  }
  return undefined;
}
