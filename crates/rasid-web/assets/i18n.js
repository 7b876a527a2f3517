// Languages: every visible string comes from i18n/en.json or i18n/ar.json by key. The language
// is chosen by ?lang=ar|en on any page, else the stored choice, else the browser's preference;
// the choice persists in localStorage and in a cookie (which server-rendered pages such as the
// certificate can read). Arabic is right-to-left: <html dir="rtl">, and the CSS uses logical
// properties (margin-inline-start, text-align: start) so the layout mirrors by itself.

export const LANGUAGES = ['en', 'ar'];
const STORE_KEY = 'rasid.lang';

let lang = 'en';
let dict = {};
let english = {};

async function load(code) {
  const res = await fetch(`/assets/${code}.json`);
  if (!res.ok) throw new Error(`cannot load the ${code} translations (${res.status})`);
  return res.json();
}

function chosen() {
  const q = new URLSearchParams(location.search).get('lang');
  if (LANGUAGES.includes(q)) return q;
  let stored = null;
  try { stored = localStorage.getItem(STORE_KEY); } catch { /* storage disabled */ }
  if (LANGUAGES.includes(stored)) return stored;
  return (navigator.language || '').toLowerCase().startsWith('ar') ? 'ar' : 'en';
}

function persist(code) {
  try { localStorage.setItem(STORE_KEY, code); } catch { /* storage disabled */ }
  document.cookie = `rasid_lang=${code}; path=/; max-age=31536000; samesite=lax`;
}

/** Loads the chosen language and sets <html lang dir>. */
export async function initI18n(code) {
  lang = code || chosen();
  persist(lang);
  english = await load('en');
  dict = lang === 'en' ? english : await load(lang);
  document.documentElement.lang = lang;
  document.documentElement.dir = dir();
  // Keep ?lang in the address in step with the choice, so a copied link shows the same page.
  const url = new URL(location.href);
  if (url.searchParams.has('lang') && url.searchParams.get('lang') !== lang) {
    url.searchParams.set('lang', lang);
    history.replaceState(history.state, '', url);
  }
}

export function currentLang() { return lang; }
export function dir() { return lang === 'ar' ? 'rtl' : 'ltr'; }
export function otherLang() { return lang === 'ar' ? 'en' : 'ar'; }

/** The string for key, with {name} placeholders filled from vars. */
export function t(key, vars) {
  let text = dict[key] ?? english[key];
  if (text === undefined) {
    console.warn(`missing translation: ${key}`);
    text = key;
  }
  if (vars) text = text.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return text;
}

/** The string for key if there is one, else fallback (for field names the API adds later). */
export function tOr(key, fallback) {
  return dict[key] ?? english[key] ?? fallback;
}

/** The string for key in a given language (the certificate shows both). */
export async function tIn(code, key) {
  const d = code === lang ? dict : await load(code);
  return d[key] ?? english[key] ?? key;
}

export async function dictionary(code) {
  return code === lang ? dict : load(code);
}

// Arabic in Saudi Arabia's conventions (Arabic-Indic digits, Hijri-free Gregorian dates).
function locale(code = lang) { return code === 'ar' ? 'ar-SA-u-ca-gregory' : 'en-GB'; }

/** A whole number (tonnes, counts). Accepts numbers, bigints and digit strings. */
export function num(value, code) {
  if (value === undefined || value === null || value === '') return '—';
  const v = typeof value === 'string' && /^-?\d+$/.test(value) ? BigInt(value) : value;
  return new Intl.NumberFormat(locale(code)).format(v);
}

/**
 * A whole number shortened for a chart axis ("130K", "2.5M", or the Arabic equivalents), where a
 * label has a fixed width and exact digits are in the table beside the chart.
 */
export function compact(value, code) {
  if (value === undefined || value === null || value === '') return '—';
  return new Intl.NumberFormat(locale(code), { notation: 'compact', maximumFractionDigits: 1 })
    .format(Number(value));
}

/** A decimal string amount ("37.50") in a currency, exactly (no float rounding). */
export function money(amount, currency, code) {
  if (amount === undefined || amount === null || amount === '') return '—';
  const text = String(amount);
  const decimals = (text.split('.')[1] || '').length;
  const opts = { minimumFractionDigits: decimals, maximumFractionDigits: Math.max(decimals, 2) };
  if (currency) Object.assign(opts, { style: 'currency', currency, currencyDisplay: 'code' });
  try {
    return new Intl.NumberFormat(locale(code), opts).format(text);
  } catch {
    return currency ? `${text} ${currency}` : text;
  }
}

/** A signed percentage change. */
export function percent(ratio, code) {
  return new Intl.NumberFormat(locale(code), { style: 'percent', signDisplay: 'exceptZero', maximumFractionDigits: 2 }).format(ratio);
}

/** An RFC 3339 time or milliseconds, shown in UTC with the zone named. */
export function date(value, code, withTime = true) {
  if (value === undefined || value === null || value === '') return '—';
  const d = typeof value === 'number' ? new Date(value) : new Date(String(value));
  if (Number.isNaN(d.getTime())) return String(value);
  const opts = withTime
    ? { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }
    : { dateStyle: 'medium', timeZone: 'UTC' };
  return `${new Intl.DateTimeFormat(locale(code), opts).format(d)}${withTime ? ' UTC' : ''}`;
}
