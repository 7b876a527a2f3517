// The public registry: projects (filtered by program, country, category, label), issuances,
// "where is this serial and what happened to it", the retirements ledger with beneficiaries,
// and market-wide totals. Nothing here needs a login.

import { h, add, mount, field, select, table, formValues } from '../dom.js';
import { t, tOr, num, date } from '../i18n.js';
import { get, all, items } from '../api.js';
import { section, loading, empty, details, show } from '../view.js';

const VIEWS = ['projects', 'issuances', 'serials', 'retirements', 'totals'];
const PROGRAMS = ['', 'VCS', 'GS', 'ACR', 'CAR', 'ART', 'PURO', 'ISOMETRIC', 'CERCARBONO', 'NATIVE'];
const CATEGORIES = ['', 'reduction', 'removal', 'mixed', 'nature', 'technology'];
const LABELS = ['', 'corsia', 'ccp', 'article6'];
const ROWS_MAX = 200;

/** The labels an issuance carries, named; "—" for none. */
function labelsText(l) {
  if (!l || typeof l !== 'object') return '—';
  const out = [];
  if (l.corsia) out.push(`${t('label.corsia')} (${tOr(`option.${l.corsia}`, l.corsia)})`);
  if (l.ccp) out.push(t('label.ccp'));
  if (l.article6) out.push(`${t('label.article6')} (${[l.article6.authorization_ref, l.article6.ca_status && tOr(`option.${l.article6.ca_status}`, l.article6.ca_status)].filter(Boolean).join(', ')})`);
  return out.join(' · ') || '—';
}

function ranges(list) {
  return (list || []).map((r) => `${r.first}–${r.last}`).join(', ');
}

export async function render(main, [view = 'projects'], { problem, navigate }) {
  if (!VIEWS.includes(view)) view = 'projects';
  add(main, h('h1', {}, t('registry.title')),
    h('nav', { class: 'tabs', 'aria-label': t('registry.views') }, h('ul', {}, VIEWS.map((v) => h('li', {},
      h('a', { href: `/registry/${v}`, 'data-link': true, 'aria-current': v === view ? 'page' : false, id: `tab-${v}` }, t(`registry.${v}`)))))));
  const box = h('div', { id: `registry-${view}` });
  add(main, box);
  const q = new URLSearchParams(location.search);

  if (view === 'projects') {
    const form = h('form', { class: 'filters', id: 'project-filters' },
      field(t('registry.program'), select('program', PROGRAMS.map((p) => [p, p ? tOr(`program.${p.toLowerCase()}`, p) : t('common.any')]), q.get('program') || '')),
      field(t('registry.country'), h('input', { name: 'country', value: q.get('country') || '' })),
      field(t('registry.category'), select('category', CATEGORIES.map((c) => [c, c ? t(`category.${c}`) : t('common.any')]), q.get('category') || '')),
      field(t('registry.label'), select('label', LABELS.map((l) => [l, l ? t(`label.${l}`) : t('common.any')]), q.get('label') || '')),
      h('button', { type: 'submit' }, t('registry.filter')));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const v = formValues(form);
      const params = new URLSearchParams();
      for (const [k, val] of Object.entries(v)) if (val) params.set(k, val);
      const lang = q.get('lang');
      if (lang) params.set('lang', lang);
      navigate(`/registry/projects${params.toString() ? `?${params}` : ''}`);
    });
    const list = h('div', {}, loading());
    add(box, section(t('registry.projects'), 'projects-card', form, list));
    try {
      const params = new URLSearchParams();
      for (const k of ['program', 'country', 'category', 'label']) if (q.get(k)) params.set(k, q.get(k));
      params.set('limit', '100');
      const rows = (await all(`/projects?${params}`, 'projects', 2)).slice(0, ROWS_MAX);
      mount(list, rows.length ? table(null,
        [t('registry.id'), t('registry.external_id'), t('registry.name'), t('registry.program'), t('registry.country'), t('registry.category'), t('registry.type')],
        rows.map((p) => [String(p.id), p.external_id || '—',
          h('a', { href: `/registry/issuances?project=${p.id}`, 'data-link': true }, p.name || '—'),
          p.program ? tOr(`program.${String(p.program).toLowerCase()}`, p.program) : '—', p.country || '—',
          [p.effect, p.basis].filter(Boolean).map((c) => tOr(`category.${c}`, c)).join(' · ') || '—', p.type || '—']), { id: 'projects-table' })
        : empty());
    } catch (e) { mount(list, problem(e)); }
  }

  if (view === 'issuances') {
    const list = h('div', {}, loading());
    add(box, section(t('registry.issuances'), 'issuances-card', list));
    try {
      const project = q.get('project');
      const rows = (await all(`/issuances?limit=100${project ? `&project=${encodeURIComponent(project)}` : ''}`, 'issuances', 2)).slice(0, ROWS_MAX);
      mount(list, rows.length ? table(null,
        [t('registry.id'), t('registry.project'), t('registry.vintage'), t('registry.serials'), t('registry.issued'), t('registry.labels')],
        rows.map((i) => [String(i.id), show('project', i.project), String(i.vintage ?? i.vintage_year ?? '—'),
          h('span', { class: 'serials' }, i.block ? ranges([].concat(i.block)) : `${i.first_serial ?? ''}–${i.last_serial ?? ''}`),
          h('span', { class: 'num' }, num(i.quantity ?? i.issued_tonnes ?? i.quantity_tonnes)), labelsText(i.labels)]), { id: 'issuances-table' })
        : empty());
    } catch (e) { mount(list, problem(e)); }
  }

  if (view === 'serials') {
    const input = h('input', { name: 'serial', id: 'serial-input', required: true, value: q.get('serial') || '', dir: 'ltr' });
    const out = h('div', { 'aria-live': 'polite', id: 'serial-result' });
    const form = h('form', { class: 'inline', id: 'serial-form' }, field(t('registry.serial_label'), input, t('registry.serial_hint')),
      h('button', { type: 'submit', class: 'primary' }, t('registry.find')));
    const find = async () => {
      mount(out, loading());
      try {
        const doc = await get(`/serials/${encodeURIComponent(input.value.trim())}`);
        const status = doc.status || doc.location?.status;
        mount(out, h('div', { class: 'card', 'data-status': status || '' },
          status ? h('p', { class: 'lead' }, t(`serial.${status}`)) : null,
          details(doc),
          doc.retirement ? h('a', { href: `/certificate/${doc.retirement}`, 'data-link': true }, t('registry.open_certificate')) : null));
      } catch (e) { mount(out, problem(e)); }
    };
    form.addEventListener('submit', (ev) => { ev.preventDefault(); find(); });
    add(box, section(t('registry.serials'), 'serials-card', h('p', {}, t('registry.serial_intro')), form, out));
    if (input.value) await find();
  }

  if (view === 'retirements') {
    const list = h('div', {}, loading());
    add(box, section(t('registry.retirements'), 'retirements-card', list));
    try {
      const rows = (await all('/retirements?limit=100', 'retirements', 2)).slice(0, ROWS_MAX);
      mount(list, rows.length ? table(null,
        [t('registry.id'), t('registry.time'), t('registry.beneficiary'), t('registry.project'), t('registry.vintage'), t('registry.quantity'), t('registry.purpose'), ''],
        rows.map((r) => [String(r.id), date(r.time), r.beneficiary, r.project?.name || show('project', r.project), String(r.vintage ?? '—'),
          h('span', { class: 'num' }, num(r.quantity)), r.purpose ? t(`purpose.${r.purpose}`) : '—',
          h('a', { href: `/certificate/${r.id}`, 'data-link': true }, t('registry.certificate'))]), { id: 'retirements-table' })
        : empty());
    } catch (e) { mount(list, problem(e)); }
  }

  if (view === 'totals') {
    const list = h('div', {}, loading());
    add(box, section(t('registry.totals'), 'totals-card', list));
    try {
      const doc = await get('/stats');
      mount(list, h('div', { class: 'tiles' }, Object.entries(doc).filter(([, v]) => typeof v !== 'object').map(([k, v]) =>
        h('div', { class: 'tile' }, h('span', { class: 'tile-label' }, tOr(`field.${k}`, k)), h('span', { class: 'tile-value' }, show(k, v))))),
      details(Object.fromEntries(Object.entries(doc).filter(([, v]) => typeof v === 'object'))));
    } catch (e) { mount(list, problem(e)); }
  }
  return undefined;
}

