// Live data over the WebSocket /v1/ws. A page subscribes to channels (book:SYM, trades:SYM,
// orders, …) with a refresh function; a snapshot or update on the channel calls it, and the page
// reads the new state from the REST route it already uses. Treating messages as "something
// changed" keeps one rendering path per view. Until the socket is up, or when the server has no
// WebSocket, each subscription polls its refresh function instead, and the status badge says so.

import { token } from './api.js';

const POLL_MS = 3000;
const RECONNECT_MS_MAX = 30000;

let socket = null;
let socketUp = false;
let reconnectMs = 1000;
const subs = new Map(); // channel -> Set of {refresh, timer}
const statusListeners = new Set();

function setStatus(up) {
  socketUp = up;
  for (const f of statusListeners) f(up);
  for (const set of subs.values()) for (const sub of set) schedulePolling(sub);
}

export function onStatus(f) { statusListeners.add(f); f(socketUp); return () => statusListeners.delete(f); }
export function isLive() { return socketUp; }

// Channels that answered their subscription with a snapshot on the current socket. A channel
// the server refused (an error instead of a snapshot) keeps polling, so a view never goes stale.
const confirmed = new Set();

function schedulePolling(sub) {
  const live = socketUp && confirmed.has(sub.channel);
  if (live && sub.timer) { clearInterval(sub.timer); sub.timer = null; }
  if (!live && !sub.timer && !sub.closed) sub.timer = setInterval(() => sub.refresh(), POLL_MS);
}

function send(msg) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(msg));
}

function connect() {
  if (socket) return;
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws`;
  try { socket = new WebSocket(url); } catch { socket = null; return; }
  socket.addEventListener('open', () => {
    reconnectMs = 1000;
    const tok = token();
    if (tok) send({ op: 'auth', token: tok });
    for (const channel of subs.keys()) send({ op: 'subscribe', channel });
    setStatus(true);
  });
  socket.addEventListener('message', (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    const set = msg && subs.get(msg.channel);
    if (!set) return;
    if (!confirmed.has(msg.channel)) {
      confirmed.add(msg.channel);
      for (const sub of set) schedulePolling(sub);
    }
    // Every message means "changed": the view reloads from REST, so a skipped seq (the server
    // dropped updates for a slow client) loses nothing.
    for (const sub of set) sub.onMessage ? sub.onMessage(msg) : sub.refresh();
  });
  socket.addEventListener('close', () => {
    socket = null;
    confirmed.clear();
    setStatus(false);
    if (subs.size) setTimeout(connect, reconnectMs);
    reconnectMs = Math.min(reconnectMs * 2, RECONNECT_MS_MAX);
  });
}

/**
 * Calls refresh when `channel` changes (or every few seconds while there is no socket).
 * Returns the function that ends the subscription.
 */
export function subscribe(channel, refresh, onMessage) {
  const sub = { channel, refresh, onMessage, timer: null, closed: false };
  if (!subs.has(channel)) {
    subs.set(channel, new Set());
    confirmed.delete(channel);
    send({ op: 'subscribe', channel });
  }
  subs.get(channel).add(sub);
  schedulePolling(sub);
  connect();
  return () => {
    sub.closed = true;
    if (sub.timer) clearInterval(sub.timer);
    const set = subs.get(channel);
    if (!set) return;
    set.delete(sub);
    if (!set.size) {
      subs.delete(channel);
      confirmed.delete(channel);
      send({ op: 'unsubscribe', channel });
    }
  };
}
