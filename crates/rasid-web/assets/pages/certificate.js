// A retirement certificate: printable and bilingual (the chosen language first, the other
// beside it), naming every serial range, the journal record's sequence number and hash, and how
// anyone can verify the claim. Public, like the retirement it certifies.

import { h, add } from '../dom.js';
import { t, currentLang, otherLang, dictionary, num, date } from '../i18n.js';
import { get } from '../api.js';

function column(code, d, r, hash) {
  const tr = (k, vars) => {
    let s = d[k] ?? k;
    if (vars) s = s.replace(/\{(\w+)\}/g, (m, key) => (key in vars ? String(vars[key]) : m));
    return s;
  };
  const serials = r.serials || [];
  const row = (k, v, attrs) => [h('dt', {}, tr(k)), h('dd', attrs || {}, v)];
  return h('article', { class: 'cert-col', lang: code, dir: code === 'ar' ? 'rtl' : 'ltr' },
    h('h2', {}, tr('cert.heading')),
    h('p', { class: 'lead' }, tr('cert.statement', { quantity: num(r.quantity, code), beneficiary: r.beneficiary })),
    h('dl', { class: 'details' },
      row('cert.number', String(r.id)),
      row('cert.beneficiary', r.beneficiary),
      row('cert.quantity', tr('cert.tonnes', { quantity: num(r.quantity, code) })),
      row('cert.project', `${r.project?.name || ''} (${r.project?.external_id || ''})`),
      row('cert.country', r.project?.country || '—'),
      row('cert.vintage', String(r.vintage ?? '—')),
      row('cert.purpose', r.purpose ? tr(`purpose.${r.purpose}`) : '—'),
      r.using_entity ? row('cert.using_entity', r.using_entity) : null,
      row('cert.time', date(r.time, code)),
      row('cert.journal_seq', String(r.seq ?? '—'), { class: 'mono' }),
      row('cert.journal_hash', hash || tr('cert.hash_unavailable'), { class: 'mono', id: `cert-hash-${code}` })),
    h('h3', {}, tr('cert.serial_ranges', { count: num(serials.length, code) })),
    h('ol', { class: 'serial-list' }, serials.map((s) => h('li', {}, h('bdi', { dir: 'ltr' }, `${s.first} – ${s.last}`), ` (${tr('cert.tonnes', { quantity: num(s.quantity, code) })})`))),
    h('h3', {}, tr('cert.verify_heading')),
    h('ol', { class: 'verify' },
      h('li', {}, tr('cert.verify_api', { id: r.id })),
      h('li', {}, tr('cert.verify_serial')),
      h('li', {}, tr('cert.verify_journal', { seq: r.seq ?? '—' }))));
}

/**
 * The journal record's hash, read from the server's printable certificate (the JSON retirement
 * does not carry it). The HTML is parsed into an inert document, never inserted, so nothing in
 * it runs; null when the server has no certificate route.
 */
async function recordHash(id) {
  try {
    const res = await fetch(`/v1/retirements/${encodeURIComponent(id)}/certificate`);
    if (!res.ok) return null;
    const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
    const code = [...doc.querySelectorAll('code')].map((c) => c.textContent.trim()).find((x) => /^[0-9a-f]{64}$/.test(x));
    return code || null;
  } catch {
    return null;
  }
}

export async function render(main, [id], { problem }) {
  let r;
  try {
    r = await get(`/retirements/${encodeURIComponent(id)}`);
  } catch (e) {
    add(main, h('h1', {}, t('cert.title')), problem(e));
    return undefined;
  }
  const hash = r.record_hash || r.hash || await recordHash(id);
  const first = currentLang();
  const second = otherLang();
  const [d1, d2] = await Promise.all([dictionary(first), dictionary(second)]);
  add(main, 
    h('div', { class: 'no-print toolbar' },
      h('button', { type: 'button', class: 'primary', onclick: () => window.print() }, t('cert.print')),
      h('a', { href: `/v1/retirements/${encodeURIComponent(id)}/certificate?lang=${first}`, class: 'button' }, t('cert.server_version'))),
    h('div', { class: 'certificate', id: 'certificate' },
      h('header', { class: 'cert-head' },
        h('img', { src: '/assets/icon.svg', alt: '', width: 40, height: 40 }),
        h('h1', {}, `${d1['cert.title']} · ${d2['cert.title']}`)),
      h('div', { class: 'cert-cols' }, column(first, d1, r, hash), column(second, d2, r, hash))));
  return undefined;
}
