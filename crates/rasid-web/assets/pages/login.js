// Sign in: POST /v1/sessions, then GET /v1/me for the organization, role and accounts.

import { h, add, mount, field, formValues } from '../dom.js';
import { t } from '../i18n.js';
import { api, setSession, loadMe } from '../api.js';

export async function render(main, _params, { navigate, problem }) {
  const out = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'card narrow', id: 'login-form' },
    field(t('login.username'), h('input', { name: 'username', autocomplete: 'username', required: true, id: 'username' })),
    field(t('login.password'), h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true, id: 'password' })),
    h('button', { type: 'submit', class: 'primary', id: 'login-submit' }, t('login.submit')),
    out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = formValues(form);
    mount(out);
    try {
      const doc = await api('POST', '/sessions', { username: v.username, password: v.password });
      setSession(doc.token, { username: v.username });
      await loadMe();
      const next = new URLSearchParams(location.search).get('next');
      navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : '/markets');
    } catch (e) {
      mount(out, problem(e));
    }
  });
  add(main, h('h1', {}, t('login.title')), form);
  form.querySelector('input').focus();
}
