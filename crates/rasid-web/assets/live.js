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

function schedulePolling(sub) {
  if (socketUp && sub.timer) { clearInterval(sub.timer); sub.timer = null; }
  if (!socketUp && !sub.timer && !sub.closed) sub.timer = setInterval(() => sub.refresh(), POLL_MS);
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
    for (const sub of set) sub.onMessage ? sub.onMessage(msg) : sub.refresh();
  });
  socket.addEventListener('close', () => {
    socket = null;
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
  const sub = { refresh, onMessage, timer: null, closed: false };
  if (!subs.has(channel)) {
    subs.set(channel, new Set());
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
      send({ op: 'unsubscribe', channel });
    }
  };
}
