// The application shell: language, header and navigation, and the path router. Each page
// module exports render(main, params, ctx) and may return a function that stops its live
// subscriptions when the page is left.

import { h, mount } from './dom.js';
import { initI18n, t, currentLang, otherLang } from './i18n.js';
import { api, me, role, setSession, token, ApiError, notAvailable, loadMe } from './api.js';
import { onStatus, isLive } from './live.js';
import * as login from './pages/login.js';
import * as markets from './pages/markets.js';
import * as trade from './pages/trade.js';
import * as auctions from './pages/auctions.js';
import * as registry from './pages/registry.js';
import * as account from './pages/account.js';
import * as certificate from './pages/certificate.js';
import * as admin from './pages/admin.js';

// [pattern, page module, nav key or null]. Kept in step with rasid_web::PAGES.
const ROUTES = [
  [/^\/$/, markets, null],
  [/^\/markets$/, markets, 'nav.markets'],
  [/^\/trade\/([^/]+)$/, trade, null],
  [/^\/auctions$/, auctions, 'nav.auctions'],
  [/^\/auctions\/([^/]+)$/, auctions, null],
  [/^\/registry$/, registry, 'nav.registry'],
  [/^\/registry\/([^/]+)$/, registry, null],
  [/^\/account$/, account, 'nav.account'],
  [/^\/certificate\/([^/]+)$/, certificate, null],
  [/^\/admin$/, admin, 'nav.admin'],
  [/^\/admin\/([^/]+)$/, admin, null],
  [/^\/login$/, login, null],
];

const NAV = [
  ['/markets', 'nav.markets'],
  ['/auctions', 'nav.auctions'],
  ['/registry', 'nav.registry'],
  ['/account', 'nav.account', 'member'],
  ['/admin', 'nav.admin', 'staff'],
];

let stopPage = null;
let focusMain = false;

/** Goes to an in-app path without reloading. */
export function navigate(path, replace = false) {
  const url = new URL(path, location.origin);
  if (replace) history.replaceState({}, '', url); else history.pushState({}, '', url);
  route();
}

function header() {
  const r = role();
  const loggedIn = !!token();
  const links = NAV.filter(([, , need]) => {
    if (!need) return true;
    if (!loggedIn) return false;
    if (need === 'staff') return r === null || ['operator', 'registrar', 'auditor'].includes(r);
    return r === null || r === 'member' || r === 'operator' || r === 'auditor';
  });
  const here = location.pathname;
  const badge = h('span', { class: 'badge', id: 'live-status', role: 'status' });
  const who = me();
  const switchTo = otherLang();
  return [
    h('a', { class: 'brand', href: '/markets', 'data-link': true },
      h('img', { src: '/assets/icon.svg', alt: '', width: 28, height: 28 }),
      h('span', {}, t('app.name'))),
    h('nav', { 'aria-label': t('nav.label') },
      h('ul', {}, links.map(([href, key]) => h('li', {},
        h('a', { href, 'data-link': true, 'aria-current': here.startsWith(href) ? 'page' : false }, t(key)))))),
    h('div', { class: 'session' },
      badge,
      h('button', {
        type: 'button', class: 'lang', id: 'lang-switch', lang: switchTo,
        'aria-label': t('lang.switch_label'),
        onclick: () => switchLanguage(switchTo),
      }, t('lang.other')),
      loggedIn
        ? [h('span', { class: 'who', id: 'who' }, (who?.user || who?.username) ? `${who.user || who.username}${role() ? ` · ${t(`role.${role()}`)}` : ''}` : t('session.signed_in')),
          h('button', { type: 'button', id: 'logout', onclick: logout }, t('session.logout'))]
        : h('a', { href: '/login', 'data-link': true, class: 'button', id: 'login-link' }, t('session.login'))),
  ];
}

async function switchLanguage(code) {
  await initI18n(code);
  const url = new URL(location.href);
  if (url.searchParams.has('lang')) { url.searchParams.set('lang', code); history.replaceState({}, '', url); }
  route();
}

async function logout() {
  try { await api('DELETE', '/sessions/current'); } catch { /* the session may be gone already */ }
  setSession(null, null);
  navigate('/markets');
}

function footer() {
  return h('p', {}, t('footer.text'), ' · ', h('a', { href: '/v1/health' }, t('footer.api')));
}

/** Renders an error or "not available" box for a failed load. */
export function problem(e) {
  if (notAvailable(e)) return h('div', { class: 'notice', role: 'status', 'data-state': 'not-available' }, t('state.not_available'));
  if (e instanceof ApiError && e.status === 401) {
    return h('div', { class: 'notice', role: 'alert' }, t('state.login_needed'), ' ',
      h('a', { href: `/login?next=${encodeURIComponent(location.pathname)}`, 'data-link': true }, t('session.login')));
  }
  const msg = e instanceof ApiError ? `${t('state.error')}: ${e.message} (${e.code})` : `${t('state.error')}: ${e.message || e}`;
  return h('div', { class: 'notice error', role: 'alert' }, msg);
}

async function route() {
  if (stopPage) { try { stopPage(); } catch { /* ignore */ } stopPage = null; }
  const path = location.pathname;
  let page = null;
  let params = [];
  for (const [re, mod] of ROUTES) {
    const m = path.match(re);
    if (m) { page = mod; params = m.slice(1).map(decodeURIComponent); break; }
  }
  mount(document.getElementById('top'), header());
  mount(document.getElementById('foot'), footer());
  showLiveStatus(isLive());
  document.getElementById('skip').textContent = t('app.skip');
  const main = document.getElementById('main');
  if (!page) {
    mount(main, h('h1', {}, t('state.no_page')));
    return;
  }
  main.replaceChildren();
  main.setAttribute('aria-busy', 'true');
  try {
    const stop = await page.render(main, params, { navigate, problem });
    if (typeof stop === 'function') stopPage = stop;
  } catch (e) {
    mount(main, problem(e));
  }
  main.removeAttribute('aria-busy');
  // After an in-app navigation, keyboard and screen-reader users start at the new content.
  if (focusMain) main.focus();
  focusMain = true;
  document.title = `${main.querySelector('h1')?.textContent || ''} · ${t('app.name')}`;
}

// In-app links change the view without a reload; other links behave normally.
document.addEventListener('click', (ev) => {
  const a = ev.target.closest && ev.target.closest('a[data-link]');
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey) return;
  ev.preventDefault();
  navigate(a.getAttribute('href'));
});
window.addEventListener('popstate', route);

function showLiveStatus(up) {
  const badge = document.getElementById('live-status');
  if (!badge) return;
  badge.textContent = up ? t('live.on') : t('live.polling');
  badge.className = `badge ${up ? 'ok' : 'warn'}`;
}

async function start() {
  onStatus(showLiveStatus);
  await initI18n();
  if (token()) { try { await loadMe(); } catch { /* the page will show the error */ } }
  await route();
  document.documentElement.dataset.ready = currentLang();
}

start();
