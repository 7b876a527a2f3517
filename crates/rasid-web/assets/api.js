// The /v1 API client: JSON in and out, the session token as a bearer token, a fresh
// Idempotency-Key on every POST, and the API's error format turned into ApiError.

const TOKEN_KEY = 'rasid.token';
const ME_KEY = 'rasid.me';
const ACCOUNT_KEY = 'rasid.account';

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

function storage() {
  try { return localStorage; } catch { return null; }
}

export function token() { return storage()?.getItem(TOKEN_KEY) || null; }

export function setSession(tok, me) {
  const st = storage();
  if (!st) return;
  if (tok) st.setItem(TOKEN_KEY, tok); else st.removeItem(TOKEN_KEY);
  if (me) st.setItem(ME_KEY, JSON.stringify(me)); else st.removeItem(ME_KEY);
  if (!tok) st.removeItem(ACCOUNT_KEY);
}

/** Who is logged in, as GET /v1/me told us: {username, organization, role, accounts[]}. */
export function me() {
  try { return JSON.parse(storage()?.getItem(ME_KEY) || 'null'); } catch { return null; }
}

/** The account the member works with: chosen on the account page, else its first. */
export function currentAccount() {
  const chosen = storage()?.getItem(ACCOUNT_KEY);
  if (chosen) return chosen;
  const accounts = accountIds(me());
  return accounts.length ? String(accounts[0]) : null;
}

export function setCurrentAccount(id) {
  if (id) storage()?.setItem(ACCOUNT_KEY, String(id)); else storage()?.removeItem(ACCOUNT_KEY);
}

/** The account ids in a /v1/me document, whatever shape its list has. */
export function accountIds(doc) {
  const list = doc?.accounts || doc?.organization?.accounts || [];
  return list.map((a) => (typeof a === 'object' ? a.id : a)).filter((x) => x !== undefined);
}

/** The caller's role from /v1/me, or null when unknown. */
export function role(doc = me()) {
  return doc?.role || doc?.organization?.role || doc?.user?.role || null;
}

export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  const tok = token();
  if (tok) headers.Authorization = `Bearer ${tok}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method === 'POST') headers['Idempotency-Key'] = crypto.randomUUID();
  let res;
  try {
    res = await fetch(`/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, 'network', e.message);
  }
  const text = await res.text();
  let doc = null;
  try { doc = text ? JSON.parse(text) : null; } catch { doc = { raw: text }; }
  if (!res.ok) {
    const err = doc?.error || {};
    if (res.status === 401 && tok) setSession(null, null);
    throw new ApiError(res.status, err.code || 'http_error', err.message || text.slice(0, 200), err.details);
  }
  return doc;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});
export const patch = (path, body) => api('PATCH', path, body ?? {});
export const del = (path) => api('DELETE', path);

/** True when the server does not have this route (yet): the page shows "not available". */
export function notAvailable(e) {
  return e instanceof ApiError && (e.code === 'unknown_route' || e.code === 'method_not_allowed');
}

/** The rows of a list reply: {items:[…]} (paginated routes) or the older {markets:[…]} shapes. */
export function items(doc, key) {
  if (!doc) return [];
  if (Array.isArray(doc)) return doc;
  if (Array.isArray(doc.items)) return doc.items;
  if (key && Array.isArray(doc[key])) return doc[key];
  const first = Object.values(doc).find(Array.isArray);
  return first || [];
}

/** Every page of a cursor-paginated list, up to pagesMax pages. */
export async function all(path, key, pagesMax = 20) {
  let rows = [];
  let cursor = null;
  for (let page = 0; page < pagesMax; page += 1) {
    const sep = path.includes('?') ? '&' : '?';
    const doc = await get(cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path);
    rows = rows.concat(items(doc, key));
    cursor = doc?.next_cursor;
    if (!cursor) break;
  }
  return rows;
}

/** Refreshes the stored /v1/me document (role, accounts) for a logged-in session. */
export async function loadMe() {
  if (!token()) return null;
  try {
    const doc = await api('GET', '/me');
    const prev = me();
    setSession(token(), { ...(prev || {}), ...doc });
    return doc;
  } catch (e) {
    if (!notAvailable(e)) throw e;
    return null;
  }
}
