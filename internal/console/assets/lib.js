// Shared pieces of the wagraph console: GraphQL over HTTP and websocket,
// toasts, dialogs, badges, roles. The token lives in sessionStorage only:
// never in the URL, a log or localStorage.
import { h, render } from "./vendor/preact/preact.module.js";
import { useState, useEffect, useRef } from "./vendor/preact/hooks.module.js";
import htm from "./vendor/htm/htm.module.js";
import { createClient } from "./vendor/graphql-ws/client.js";

export { h, render, useState, useEffect, useRef };
export const html = htm.bind(h);
export const TOKEN_KEY = "wagraph.console.token";
export const RANK = { VIEWER: 0, OPERATOR: 1, ADMIN: 2 };
// can is whether role may do what needs the role need.
export const can = (role, need) => RANK[role] >= RANK[need];

// ---- toasts -------------------------------------------------------------
// MAX_TOASTS is how many messages show at once; a new one pushes out the oldest.
const MAX_TOASTS = 3;
let toastSeq = 0;
const toastListeners = new Set();
export function toast(kind, message, suggestion) {
  const t = { id: ++toastSeq, kind, message, suggestion };
  toastListeners.forEach((f) => f(t));
}
export function toastError(err) {
  toast("error", err.message || String(err), err.suggestion || null);
}

export function Toasts() {
  const [items, setItems] = useState([]);
  useEffect(() => {
    const add = (t) => {
      setItems((xs) => [...xs, t].slice(-MAX_TOASTS));
      setTimeout(() => setItems((xs) => xs.filter((x) => x.id !== t.id)), t.kind === "error" ? 12000 : 5000);
    };
    toastListeners.add(add);
    return () => toastListeners.delete(add);
  }, []);
  const close = (id) => setItems((xs) => xs.filter((x) => x.id !== id));
  return html`<div class="toasts" role="status" aria-live="polite">
    ${items.map((t) => html`<div class=${"toast " + t.kind} key=${t.id}>
      <p class="message">${t.message}</p>
      ${t.suggestion && html`<p class="suggestion">${t.suggestion}</p>`}
      <button class="secondary" onClick=${() => close(t.id)} aria-label="Dismiss this message">Dismiss</button>
    </div>`)}
  </div>`;
}

// ---- GraphQL over HTTP ----------------------------------------------------
export class GQLError extends Error {
  constructor(message, suggestion, code) {
    super(message);
    this.suggestion = suggestion;
    this.code = code;
  }
}

export async function gql(token, query, variables) {
  let res;
  try {
    res = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/graphql-response+json, application/json", Authorization: "Bearer " + token },
      body: JSON.stringify({ query, variables: variables || {} }),
    });
  } catch (e) {
    throw new GQLError("The server cannot be reached.", "Check the network connection and that wagraph is running, then try again.");
  }
  let body = null;
  try { body = await res.json(); } catch (e) { /* not JSON */ }
  if (body && body.errors && body.errors.length) {
    const e = body.errors[0];
    const ext = e.extensions || {};
    throw new GQLError(e.message, ext.suggestion || null, ext.code || null);
  }
  if (!res.ok || !body) {
    throw new GQLError("The server answered " + res.status + ".", "Try again; if it persists, look at the server's log.");
  }
  return body.data;
}

// ---- live connection --------------------------------------------------------
// downloadCSV fetches a CSV export with the token in the Authorization
// header (never in the address) and hands it to the browser as a file;
// fallbackName when the server names none. Refusals throw GQLError with
// the server's message and suggestion.
export async function downloadCSV(token, url, fallbackName) {
  let res;
  try {
    res = await fetch(url, { headers: { Authorization: "Bearer " + token } });
  } catch (e) {
    throw new GQLError("The server cannot be reached.", "Check the network connection and that wagraph is running, then try again.");
  }
  if (!res.ok) {
    let e = null;
    try { e = (await res.json()).errors[0]; } catch (x) { /* not JSON */ }
    throw new GQLError(e ? e.message : "The export failed with " + res.status + ".", e && e.extensions ? e.extensions.suggestion : null);
  }
  const blob = await res.blob();
  const m = /filename="([^"]+)"/.exec(res.headers.get("Content-Disposition") || "");
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = m ? m[1] : fallbackName;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60000);
}

export function openLive(token, onState) {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  let wasConnected = false;
  const client = createClient({
    url: proto + "//" + location.host + "/graphql",
    connectionParams: { Authorization: "Bearer " + token },
    lazy: false,
    keepAlive: 10000,
    retryAttempts: Infinity,
    shouldRetry: () => true,
    retryWait: async (n) => new Promise((r) => setTimeout(r, Math.min(1000 * 2 ** n, 15000) * (0.5 + Math.random() / 2))),
    on: {
      connecting: () => onState(navigator.onLine === false ? "offline" : wasConnected ? "reconnecting" : "connecting"),
      connected: () => { wasConnected = true; onState("connected"); },
      closed: () => onState(navigator.onLine === false ? "offline" : "reconnecting"),
    },
  });
  return client;
}

// useSubscription runs query on the live client while the component is shown
// (and again when deps change); graphql-ws resubscribes after a drop.
export function useSubscription(live, query, variables, onData, deps) {
  const cb = useRef(onData);
  cb.current = onData;
  useEffect(() => {
    if (!live) return undefined;
    return live.subscribe({ query, variables }, {
      next: (msg) => {
        if (msg.errors && msg.errors.length) {
          const ext = msg.errors[0].extensions || {};
          toastError(new GQLError(msg.errors[0].message, ext.suggestion || null));
          return;
        }
        cb.current(msg.data);
      },
      error: (e) => {
        if (Array.isArray(e) && e.length) toastError(new GQLError(e[0].message, (e[0].extensions || {}).suggestion));
      },
      complete: () => {},
    });
  }, [live, ...deps]);
}

// ---- helpers ----------------------------------------------------------------
export function useHash() {
  const [hash, setHash] = useState(location.hash || "#/accounts");
  useEffect(() => {
    const f = () => setHash(location.hash || "#/accounts");
    addEventListener("hashchange", f);
    return () => removeEventListener("hashchange", f);
  }, []);
  return hash;
}

export const fmtTime = (s) => (s ? new Date(s).toLocaleString() : "—");

export function Badge({ status }) {
  return html`<span class=${"badge " + status}>${status.replace(/_/g, " ")}</span>`;
}

// ConfirmDialog is a modal <dialog>, shown while it is rendered: Escape and
// Cancel close it, focus starts on Cancel and returns to the opener after.
export function ConfirmDialog({ title, children, confirmLabel, onConfirm, onClose }) {
  const ref = useRef(null);
  useEffect(() => {
    const d = ref.current;
    const opener = document.activeElement;
    d.showModal();
    d.querySelector("button.secondary").focus();
    return () => { if (d.open) d.close(); if (opener && opener.isConnected) opener.focus(); };
  }, []);
  const cancel = (e) => { e.preventDefault(); onClose(); };
  return html`<dialog ref=${ref} aria-labelledby="dialog-title" onCancel=${cancel}>
    <h2 id="dialog-title">${title}</h2>
    ${children}
    <div class="buttons">
      <button class="secondary" type="button" onClick=${onClose}>Cancel</button>
      <button class="danger" type="button" onClick=${onConfirm}>${confirmLabel}</button>
    </div>
  </dialog>`;
}

