// My account: holdings by serial block (available and reserved), cash by currency, transfers,
// retirement (leading to the certificate), and API keys. A member sees only its own
// organization's accounts: the list comes from GET /v1/me and the API refuses other accounts.

import { h, add, mount, field, select, table, formValues } from '../dom.js';
import { t, money, num, date } from '../i18n.js';
import { get, post, del, items, token, me, accountIds, currentAccount, setCurrentAccount, notAvailable } from '../api.js';
import { section, loading, empty } from '../view.js';
import { subscribe } from '../live.js';

function ranges(list) {
  return (list || []).map((r) => `${r.first}–${r.last}`).join(', ') || '—';
}

export async function render(main, _params, { problem, navigate }) {
  add(main, h('h1', {}, t('account.title')));
  if (!token()) {
    add(main, h('div', { class: 'notice', role: 'status' }, t('state.login_needed'), ' ',
      h('a', { href: '/login?next=/account', 'data-link': true }, t('session.login'))));
    return undefined;
  }
  const known = accountIds(me()).map(String);
  let account = currentAccount();
  const picker = known.length
    ? select('account', known.map((id) => [id, t('account.number', { id })]), account)
    : h('input', { name: 'account', value: account || '', inputmode: 'numeric', required: true });
  picker.id = 'account-picker';
  const pick = h('form', { class: 'inline', id: 'account-form' }, field(t('account.choose'), picker),
    h('button', { type: 'submit' }, t('account.show')));
  pick.addEventListener('submit', (ev) => { ev.preventDefault(); setCurrentAccount(picker.value.trim()); navigate('/account', true); });
  const holdingsBox = h('div', { id: 'holdings' }, loading());
  const cashBox = h('div', { id: 'cash' }, loading());
  const keysBox = h('div', { id: 'api-keys' }, loading());
  add(main, pick,
    known.length ? null : h('p', { class: 'muted' }, t('account.no_me')),
    h('div', { class: 'grid-2' },
      section(t('account.holdings'), 'holdings-card', holdingsBox),
      section(t('account.cash'), 'cash-card', cashBox)),
    h('div', { class: 'grid-2' },
      section(t('account.transfer'), 'transfer-card', transferForm()),
      section(t('account.retire'), 'retire-card', retireForm())),
    section(t('account.api_keys'), 'keys-card', keysBox));

  async function loadHoldings() {
    if (!account) { mount(holdingsBox, empty('account.pick')); mount(cashBox); return; }
    try {
      const doc = await get(`/accounts/${encodeURIComponent(account)}/holdings`);
      const rows = doc.holdings || [];
      mount(holdingsBox, rows.length
        ? table(null, [t('account.issuance'), t('account.project'), t('account.vintage'), t('account.available'), t('account.reserved'), t('account.serials')],
          rows.map((r) => [String(r.issuance), r.project, String(r.vintage),
            h('span', { class: 'num', 'data-issuance': r.issuance }, num(r.available_tonnes)), h('span', { class: 'num' }, num(r.reserved_tonnes)),
            h('span', { class: 'serials' }, ranges(r.available), r.reserved?.length ? ` · ${t('account.reserved')}: ${ranges(r.reserved)}` : '')]),
          { id: 'holdings-table' })
        : empty('account.no_holdings'));
      const cash = doc.cash || [];
      mount(cashBox, cash.length
        ? table(null, [t('account.currency'), t('account.available'), t('account.reserved')],
          cash.map((c) => [c.currency, h('span', { class: 'num' }, money(c.available, c.currency)), h('span', { class: 'num' }, money(c.reserved, c.currency))]), { id: 'cash-table' })
        : empty('account.no_cash'));
    } catch (e) {
      mount(holdingsBox, problem(e));
      mount(cashBox);
    }
  }

  function transferForm() {
    const out = h('div', { 'aria-live': 'polite' });
    const form = h('form', { class: 'stack', id: 'transfer-form' },
      field(t('account.to_account'), h('input', { name: 'to', required: true, inputmode: 'numeric' })),
      field(t('account.issuance'), h('input', { name: 'issuance', required: true, inputmode: 'numeric' })),
      field(t('account.quantity'), h('input', { name: 'quantity', required: true, inputmode: 'numeric' })),
      h('button', { type: 'submit', class: 'primary' }, t('account.transfer_submit')), out);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const v = formValues(form);
      try {
        await post('/transfers', { from: Number(account), to: Number(v.to), issuance: Number(v.issuance), quantity: Number(v.quantity) });
        mount(out, h('p', { class: 'notice ok', role: 'status' }, t('account.transferred')));
        loadHoldings();
      } catch (e) { mount(out, problem(e)); }
    });
    return form;
  }

  function retireForm() {
    const out = h('div', { 'aria-live': 'polite', id: 'retire-result' });
    const purpose = select('purpose', ['voluntary', 'corsia', 'ndc', 'other'].map((p) => [p, t(`purpose.${p}`)]), 'voluntary');
    const form = h('form', { class: 'stack', id: 'retire-form' },
      field(t('account.issuance'), h('input', { name: 'issuance', id: 'retire-issuance', required: true, inputmode: 'numeric' })),
      field(t('account.quantity'), h('input', { name: 'quantity', id: 'retire-quantity', required: true, inputmode: 'numeric' })),
      field(t('account.beneficiary'), h('input', { name: 'beneficiary', id: 'retire-beneficiary', required: true })),
      field(t('account.purpose'), purpose),
      field(t('account.using_entity'), h('input', { name: 'using_entity' })),
      field(t('account.note'), h('input', { name: 'note' })),
      h('button', { type: 'submit', class: 'primary', id: 'retire-submit' }, t('account.retire_submit')), out);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const v = formValues(form);
      try {
        const doc = await post('/retirements', {
          account: Number(account), issuance: Number(v.issuance), quantity: Number(v.quantity),
          beneficiary: v.beneficiary, purpose: v.purpose, using_entity: v.using_entity, note: v.note,
        });
        const ev0 = (doc.events || []).find((e) => e.type === 'retired');
        mount(out, h('p', { class: 'notice ok', role: 'status' }, t('account.retired', { id: ev0?.retirement ?? '?' }), ' ',
          ev0 ? h('a', { href: `/certificate/${ev0.retirement}`, 'data-link': true, id: 'certificate-link' }, t('account.open_certificate')) : null));
        loadHoldings();
      } catch (e) { mount(out, problem(e)); }
    });
    return form;
  }

  async function loadKeys() {
    try {
      const rows = items(await get('/api-keys'), 'api_keys');
      const out = h('div', { 'aria-live': 'polite' });
      const name = h('input', { name: 'name', required: true });
      const form = h('form', { class: 'inline' }, field(t('account.key_name'), name), h('button', { type: 'submit' }, t('account.key_create')));
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        try {
          const doc = await post('/api-keys', { name: name.value.trim() });
          await loadKeys();
          add(keysBox, h('p', { class: 'notice ok', role: 'status', id: 'key-secret' }, t('account.key_created'), ' ', h('code', {}, doc.secret || doc.key || '')));
        } catch (e) { mount(out, problem(e)); }
      });
      mount(keysBox, 
        rows.length ? table(null, [t('account.key_name'), t('account.key_prefix'), t('account.key_created_at'), t('trade.actions')], rows.map((k) => [
          k.name || '—', h('code', {}, `${k.prefix || k.id}…`), date(k.created || k.created_at),
          k.revoked ? `${t('account.key_revoked')} ${date(k.revoked)}` : h('button', { type: 'button', class: 'danger', onclick: async () => {
            try { await del(`/api-keys/${encodeURIComponent(k.id)}`); loadKeys(); } catch (e) { mount(out, problem(e)); }
          } }, t('account.key_revoke'))])) : empty('account.no_keys'),
        form, out);
    } catch (e) {
      mount(keysBox, notAvailable(e) ? problem(e) : problem(e));
    }
  }

  await Promise.all([loadHoldings(), loadKeys()]);
  const stop = subscribe('balances', loadHoldings);
  return stop;
}
