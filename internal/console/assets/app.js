// wagraph console: Preact + htm, graphql-ws; the public GraphQL API only.
// The token lives in sessionStorage only: never in the URL, a log or localStorage.
import { h, render } from "./vendor/preact/preact.module.js";
import { useState, useEffect, useRef } from "./vendor/preact/hooks.module.js";
import htm from "./vendor/htm/htm.module.js";
import { createClient } from "./vendor/graphql-ws/client.js";

const html = htm.bind(h);
const TOKEN_KEY = "wagraph.console.token";
const RANK = { VIEWER: 0, OPERATOR: 1, ADMIN: 2 };

// ---- toasts -------------------------------------------------------------
let toastSeq = 0;
const toastListeners = new Set();
function toast(kind, message, suggestion) {
  const t = { id: ++toastSeq, kind, message, suggestion };
  toastListeners.forEach((f) => f(t));
}
function toastError(err) {
  toast("error", err.message || String(err), err.suggestion || null);
}

function Toasts() {
  const [items, setItems] = useState([]);
  useEffect(() => {
    const add = (t) => {
      setItems((xs) => [...xs, t]);
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
class GQLError extends Error {
  constructor(message, suggestion, code) {
    super(message);
    this.suggestion = suggestion;
    this.code = code;
  }
}

async function gql(token, query, variables) {
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
function openLive(token, onState) {
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
function useSubscription(live, query, variables, onData, deps) {
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
function useHash() {
  const [hash, setHash] = useState(location.hash || "#/accounts");
  useEffect(() => {
    const f = () => setHash(location.hash || "#/accounts");
    addEventListener("hashchange", f);
    return () => removeEventListener("hashchange", f);
  }, []);
  return hash;
}

const fmtTime = (s) => (s ? new Date(s).toLocaleString() : "—");

function Badge({ status }) {
  return html`<span class=${"badge " + status}>${status.replace(/_/g, " ")}</span>`;
}

// ConfirmDialog is a modal <dialog>, shown while it is rendered: Escape and
// Cancel close it, focus starts on Cancel and returns to the opener after.
function ConfirmDialog({ title, children, confirmLabel, onConfirm, onClose }) {
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

// ---- sign-in ------------------------------------------------------------------
function SignIn({ onSignedIn }) {
  const [value, setValue] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (ev) => {
    ev.preventDefault();
    const token = value.trim();
    if (!token) {
      toast("error", "Enter an API token.", "Ask an administrator for a token (createApiToken), or run `wagraph token create`.");
      return;
    }
    setBusy(true);
    try {
      const data = await gql(token, "{ viewer { role } }");
      sessionStorage.setItem(TOKEN_KEY, token);
      setValue("");
      onSignedIn(token, data.viewer.role);
    } catch (e) {
      toastError(e);
    } finally {
      setBusy(false);
    }
  };
  return html`<main><form class="signin" onSubmit=${submit} autocomplete="off">
    <h1>Sign in to wagraph</h1>
    <label for="token">API token</label>
    <input id="token" name="token" type="password" value=${value} onInput=${(e) => setValue(e.target.value)} autocomplete="off" spellcheck="false" />
    <p class="hint">The token is kept in this tab only (sessionStorage) and forgotten when you sign out or close the tab.</p>
    <button type="submit" disabled=${busy}>Sign in</button>
  </form></main>`;
}

// ---- accounts list ------------------------------------------------------------
const ACCOUNT_FIELDS = "id name status version phoneNumber statusReason { code message suggestion }";

function Accounts({ token, role, live, epoch }) {
  const [accounts, setAccounts] = useState(null);
  const [name, setName] = useState("");
  const [renaming, setRenaming] = useState(null); // { id, name }
  const [deleting, setDeleting] = useState(null); // account
  const canWrite = RANK[role] >= RANK.OPERATOR;
  const canDelete = RANK[role] >= RANK.ADMIN;

  // Live events that arrive while the list loads win over the loaded list
  // when newer (id -> account, or null when deleted).
  const during = useRef(null);
  const load = async () => {
    const seen = new Map();
    during.current = seen;
    try {
      const data = await gql(token, `{ accounts(first: 100) { edges { node { ${ACCOUNT_FIELDS} } } } }`);
      let list = data.accounts.edges.map((e) => e.node);
      for (const [id, acc] of seen) {
        list = list.filter((x) => x.id !== id || (acc && x.version > acc.version));
        if (acc && !list.some((x) => x.id === id)) list.push(acc);
      }
      setAccounts(list);
    } catch (e) { toastError(e); setAccounts((xs) => xs || []); }
    if (during.current === seen) during.current = null;
  };
  // Load again on every (re)connection: changes made while the live
  // connection was down (deletions among them) show up.
  useEffect(() => { load(); }, [token, epoch]);

  const upsert = (acc) => { if (during.current) during.current.set(acc.id, acc); setAccounts((xs) => {
    const list = xs || [];
    const i = list.findIndex((x) => x.id === acc.id);
    if (i < 0) return [...list, acc];
    if (list[i].version > acc.version) return list;
    const next = list.slice();
    next[i] = { ...list[i], ...acc };
    return next;
  }); };
  const drop = (id) => { if (during.current) during.current.set(id, null); setAccounts((xs) => (xs || []).filter((x) => x.id !== id)); };
  useSubscription(live, `subscription { accountStatusChanged { accountId version deleted account { ${ACCOUNT_FIELDS} } } }`, {}, (d) => {
    const ev = d.accountStatusChanged;
    if (ev.deleted) drop(ev.accountId);
    else upsert(ev.account);
  }, []);

  const create = async (ev) => {
    ev.preventDefault();
    try {
      const data = await gql(token, `mutation($n: String!) { createAccount(input: {name: $n}) { account { ${ACCOUNT_FIELDS} } } }`, { n: name });
      upsert(data.createAccount.account);
      setName("");
      toast("info", `Account “${data.createAccount.account.name}” created.`);
    } catch (e) { toastError(e); }
  };
  const rename = async (ev) => {
    ev.preventDefault();
    try {
      const data = await gql(token, `mutation($id: ID!, $n: String!) { updateAccount(input: {accountId: $id, name: $n}) { account { ${ACCOUNT_FIELDS} } } }`, { id: renaming.id, n: renaming.name });
      upsert(data.updateAccount.account);
      setRenaming(null);
    } catch (e) { toastError(e); }
  };
  const remove = async () => {
    const acc = deleting;
    setDeleting(null);
    try {
      await gql(token, `mutation($id: ID!) { deleteAccount(input: {accountId: $id}) { deletedAccountId } }`, { id: acc.id });
      drop(acc.id);
      toast("info", `Account “${acc.name}” deleted.`);
    } catch (e) { toastError(e); }
  };

  return html`<main>
    <h1>Accounts</h1>
    ${canWrite && html`<form class="inline" onSubmit=${create} aria-label="Create an account">
      <div><label for="new-account">New account name</label>
      <input id="new-account" value=${name} onInput=${(e) => setName(e.target.value)} maxlength="200" /></div>
      <button type="submit">Create account</button>
    </form>`}
    ${accounts === null ? html`<p>Loading accounts…</p>` : accounts.length === 0 ? html`<p>No accounts yet.${canWrite ? " Create one above." : ""}</p>` : html`
    <ul class="accounts" aria-label="Accounts">
      ${accounts.map((a) => html`<li key=${a.id} data-account=${a.id}>
        <div>${renaming && renaming.id === a.id ? html`<form class="inline" onSubmit=${rename}>
            <div><label for=${"rename-" + a.id}>New name for ${a.name}</label>
            <input id=${"rename-" + a.id} value=${renaming.name} onInput=${(e) => setRenaming({ id: a.id, name: e.target.value })} /></div>
            <button type="submit">Save</button>
            <button type="button" class="secondary" onClick=${() => setRenaming(null)}>Cancel</button>
          </form>` : html`<a href=${"#/accounts/" + encodeURIComponent(a.id)}>${a.name}</a>${a.phoneNumber ? html` <span class="hint">${a.phoneNumber}</span>` : ""}`}</div>
        <div><${Badge} status=${a.status} /></div>
        <div class="reason">${a.statusReason.message}${a.statusReason.suggestion ? " " + a.statusReason.suggestion : ""}</div>
        ${(canWrite || canDelete) && html`<div class="actions">
          ${canWrite && html`<button class="secondary" type="button" onClick=${() => setRenaming({ id: a.id, name: a.name })} aria-label=${"Rename " + a.name}>Rename</button>`}
          ${canDelete && html`<button class="danger" type="button" onClick=${() => setDeleting(a)} aria-label=${"Delete " + a.name}>Delete</button>`}
        </div>`}
      </li>`)}
    </ul>`}
    ${deleting && html`<${ConfirmDialog} title="Delete this account?" confirmLabel="Delete account" onConfirm=${remove} onClose=${() => setDeleting(null)}>
      <p>“${deleting.name}” is unlinked from its phone and deleted with its history. This cannot be undone.</p>
    </${ConfirmDialog}>`}
  </main>`;
}

// ---- account page ------------------------------------------------------------
const ACTIVATION = "activation { method expiresAt secondsRemaining pairingCode pairingPhoneNumber qr { imageDataUrl expiresAt } }";
const CHANGE = "version from to at reason { code message suggestion }";
const DETAIL = `${ACCOUNT_FIELDS} jid pushName platform lastConnectedAt sessionExpiresAt bannedUntil ${ACTIVATION}`;

function useCountdown(deadline) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!deadline) return undefined;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [deadline]);
  return deadline ? Math.max(0, Math.round((deadline - now) / 1000)) : null;
}

function AccountPage({ id, token, role, live, epoch }) {
  const [acc, setAcc] = useState(null);
  const [history, setHistory] = useState([]);
  const [code, setCode] = useState(null); // { image, pairingCode, deadline, activationDeadline }
  const [phone, setPhone] = useState("");
  const [confirmReset, setConfirmReset] = useState(false);
  const [run, setRun] = useState(0);
  const canWrite = RANK[role] >= RANK.OPERATOR;
  const qrLeft = useCountdown(code && code.deadline);
  const activationLeft = useCountdown(code && code.activationDeadline);

  const fromActivation = (a) => {
    const act = a.activation;
    if (!act) { setCode(null); return; }
    setCode({
      image: act.qr ? act.qr.imageDataUrl : null,
      pairingCode: act.pairingCode,
      deadline: act.qr ? Date.now() + Math.max(0, (Date.parse(act.qr.expiresAt) - Date.parse(act.expiresAt)) / 1000 + act.secondsRemaining) * 1000 : null,
      activationDeadline: Date.now() + act.secondsRemaining * 1000,
    });
  };
  const load = async () => {
    try {
      const d = await gql(token, `query($id: ID!) { account(id: $id) { ${DETAIL} statusHistory(first: 20) { edges { node { ${CHANGE} } } } } }`, { id });
      setAcc(d.account);
      setHistory(d.account.statusHistory.edges.map((e) => e.node));
      fromActivation(d.account);
    } catch (e) { toastError(e); }
  };
  useEffect(() => { load(); }, [id, token, epoch]); // again after a reconnection

  useSubscription(live, `subscription($id: ID!) { accountStatusChanged(accountId: $id) { version deleted account { ${DETAIL} } change { ${CHANGE} } } }`, { id }, (d) => {
    const ev = d.accountStatusChanged;
    if (ev.deleted) { toast("info", "This account was deleted."); location.hash = "#/accounts"; return; }
    setAcc((cur) => (cur && cur.version > ev.version ? cur : ev.account));
    if (ev.change) setHistory((hs) => (hs.some((x) => x.version === ev.change.version) ? hs : [ev.change, ...hs]));
    if (!ev.account.activation) setCode(null);
  }, [id]);

  useSubscription(live, `subscription($id: ID!) { qrCodeUpdated(accountId: $id) { version status imageDataUrl pairingCode secondsRemaining activationSecondsRemaining done deleted } }`, { id }, (d) => {
    const q = d.qrCodeUpdated;
    if (q.done || q.deleted) { setCode(null); return; }
    setCode((cur) => ({
      image: q.imageDataUrl || null,
      pairingCode: q.pairingCode || null,
      deadline: q.secondsRemaining != null ? Date.now() + q.secondsRemaining * 1000 : null,
      activationDeadline: q.activationSecondsRemaining != null ? Date.now() + q.activationSecondsRemaining * 1000 : cur && cur.activationDeadline,
    }));
  }, [id, run]);

  const act = async (query, vars, done) => {
    try {
      const d = await gql(token, query, { id, ...vars });
      const a = Object.values(d)[0].account;
      setAcc(a);
      fromActivation(a);
      if (done) toast("info", done);
      return true;
    } catch (e) { toastError(e); return false; }
  };
  const startQR = () => { setRun((n) => n + 1); act(`mutation($id: ID!) { startActivation(input: {accountId: $id, method: QR}) { account { ${DETAIL} } } }`); };
  const startPairing = async (ev) => {
    ev.preventDefault();
    setRun((n) => n + 1);
    await act(`mutation($id: ID!, $p: String) { startActivation(input: {accountId: $id, method: PAIRING_CODE, phoneNumber: $p}) { account { ${DETAIL} } } }`, { p: phone });
  };
  const reset = async () => {
    setConfirmReset(false);
    await act(`mutation($id: ID!) { resetAccount(input: {accountId: $id}) { account { ${DETAIL} } } }`, {}, "The account was reset: it is PENDING and can be linked again.");
  };

  if (!acc) return html`<main><p><a href="#/accounts">← Accounts</a></p><p>Loading the account…</p></main>`;
  const linkable = ["PENDING", "AWAITING_SCAN", "LOGGED_OUT", "EXPIRED", "FAILED"].includes(acc.status);
  return html`<main>
    <p><a href="#/accounts">← Accounts</a></p>
    <h1>${acc.name} <${Badge} status=${acc.status} /></h1>
    <p class="reason" id="status-reason">${acc.statusReason.message}${acc.statusReason.suggestion ? " " + acc.statusReason.suggestion : ""}</p>
    <dl class="facts">
      <dt>Phone number</dt><dd>${acc.phoneNumber || "—"}</dd>
      <dt>Name on the phone</dt><dd>${acc.pushName || "—"}</dd>
      <dt>Platform</dt><dd>${acc.platform || "—"}</dd>
      <dt>Last connected</dt><dd>${fmtTime(acc.lastConnectedAt)}</dd>
      <dt>Session expires</dt><dd>${fmtTime(acc.sessionExpiresAt)}</dd>
      ${acc.bannedUntil && html`<dt>Banned until</dt><dd>${fmtTime(acc.bannedUntil)}</dd>`}
    </dl>

    ${code && html`<section class="panel qr" aria-labelledby="link-title">
      <h2 id="link-title">Link the phone</h2>
      ${code.image && html`<p>On the phone: WhatsApp → Settings → Linked devices → Link a device, then scan this code.</p>
        <img src=${code.image} alt="QR code to scan with WhatsApp on the phone" />
        <p aria-live="off">A new code in <strong class="qr-countdown">${qrLeft}</strong> s.</p>`}
      ${code.pairingCode && html`<p>On the phone: WhatsApp → Settings → Linked devices → Link a device → Link with phone number instead, then type:</p>
        <p class="pairing" aria-label="Pairing code">${code.pairingCode}</p>`}
      ${activationLeft != null && html`<p class="hint">This activation ends in ${Math.floor(activationLeft / 60)} min ${activationLeft % 60} s unless the phone links.</p>`}
    </section>`}

    ${canWrite && html`<section aria-labelledby="actions-title">
      <h2 id="actions-title">Actions</h2>
      ${linkable && html`<div class="buttons"><button type="button" onClick=${startQR}>Link with a QR code</button></div>
        <form class="inline" onSubmit=${startPairing} aria-label="Link with a pairing code">
          <div><label for="pairing-phone">Phone number for a pairing code</label>
          <input id="pairing-phone" type="tel" value=${phone} onInput=${(e) => setPhone(e.target.value)} placeholder="+49 151 23456789" /></div>
          <button type="submit" class="secondary">Get a pairing code</button>
        </form>`}
      <div class="buttons">
        <button type="button" class="secondary" onClick=${() => act(`mutation($id: ID!) { reconnectAccount(input: {accountId: $id}) { account { ${DETAIL} } } }`, {}, "Reconnecting.")}>Reconnect</button>
        <button type="button" class="secondary" onClick=${() => act(`mutation($id: ID!) { logoutAccount(input: {accountId: $id}) { account { ${DETAIL} } } }`, {}, "Logged out.")}>Log out</button>
        <button type="button" class="danger" onClick=${() => setConfirmReset(true)}>Reset…</button>
      </div>
    </section>`}

    <section aria-labelledby="history-title">
      <h2 id="history-title">Status history</h2>
      <table>
        <thead><tr><th scope="col">When</th><th scope="col">Change</th><th scope="col" class="optional">Reason</th></tr></thead>
        <tbody>${history.map((c) => html`<tr key=${c.version}>
          <td>${fmtTime(c.at)}</td>
          <td>${c.from ? c.from + " → " : ""}${c.to}</td>
          <td class="optional">${c.reason.message}</td>
        </tr>`)}</tbody>
      </table>
    </section>

    ${confirmReset && html`<${ConfirmDialog} title="Reset this account?" confirmLabel="Reset account" onConfirm=${reset} onClose=${() => setConfirmReset(false)}>
      <p>“${acc.name}” is disconnected, its device is unlinked from WhatsApp and its session deleted. It becomes PENDING and must be linked again.</p>
    </${ConfirmDialog}>`}
  </main>`;
}

// ---- health -------------------------------------------------------------------
const STATUSES = ["PENDING", "AWAITING_SCAN", "AUTHENTICATING", "WARMING", "ACTIVE", "DISCONNECTED", "RECONNECTING", "LOGGED_OUT", "BANNED", "EXPIRED", "FAILED"];

function Health({ token }) {
  const [data, setData] = useState(null);
  const load = async () => {
    try {
      const counts = STATUSES.map((s) => `${s}: accounts(first: 1, status: [${s}]) { totalCount }`).join(" ");
      setData(await gql(token, `{ health { status version uptimeSeconds components { name status error latencyMs } } ${counts} }`));
    } catch (e) { toastError(e); }
  };
  useEffect(() => { load(); }, [token]);
  if (!data) return html`<main><h1>Health</h1><p>Loading…</p></main>`;
  const hl = data.health;
  return html`<main>
    <h1>Health</h1>
    <p>Server <strong class="health-status">${hl.status}</strong>, version ${hl.version}, up ${Math.floor(hl.uptimeSeconds / 3600)} h ${Math.floor(hl.uptimeSeconds / 60) % 60} min.
      <button type="button" class="secondary" onClick=${load}>Refresh</button></p>
    <h2>Components</h2>
    <table><thead><tr><th scope="col">Component</th><th scope="col">Status</th><th scope="col">Latency</th><th scope="col" class="optional">Error</th></tr></thead>
      <tbody>${hl.components.map((c) => html`<tr key=${c.name}><td>${c.name}</td><td>${c.status}</td><td>${c.latencyMs.toFixed(1)} ms</td><td class="optional">${c.error || ""}</td></tr>`)}</tbody></table>
    <h2>Accounts by status</h2>
    <table><thead><tr><th scope="col">Status</th><th scope="col">Accounts</th></tr></thead>
      <tbody>${STATUSES.map((s) => html`<tr key=${s}><td><${Badge} status=${s} /></td><td>${data[s].totalCount}</td></tr>`)}</tbody></table>
  </main>`;
}

// ---- the app ------------------------------------------------------------------
function App() {
  const [token, setToken] = useState(() => sessionStorage.getItem(TOKEN_KEY));
  const [role, setRole] = useState(null);
  const [conn, setConn] = useState("connecting");
  const [live, setLive] = useState(null);
  const [epoch, setEpoch] = useState(0); // counts live (re)connections
  const hash = useHash();

  useEffect(() => {
    if (!token || role) return;
    gql(token, "{ viewer { role } }").then((d) => setRole(d.viewer.role), (e) => {
      toastError(e);
      sessionStorage.removeItem(TOKEN_KEY);
      setToken(null);
    });
  }, [token]);
  useEffect(() => {
    if (!token || !role) return undefined;
    const client = openLive(token, (st) => {
      setConn(st);
      if (st === "connected") setEpoch((n) => n + 1);
    });
    setLive(client);
    const offline = () => setConn("offline");
    const online = () => setConn("reconnecting");
    addEventListener("offline", offline);
    addEventListener("online", online);
    return () => {
      removeEventListener("offline", offline);
      removeEventListener("online", online);
      setLive(null);
      client.dispose();
    };
  }, [token, role]);

  const signOut = () => {
    sessionStorage.removeItem(TOKEN_KEY);
    setToken(null);
    setRole(null);
  };

  if (!token || !role) {
    return html`<${Toasts} />${token ? html`<main><p>Signing in…</p></main>` : html`<${SignIn} onSignedIn=${(t, r) => { setRole(r); setToken(t); }} />`}`;
  }
  const m = hash.match(/^#\/accounts\/(.+)$/);
  const page = hash === "#/health" ? "health" : m ? "account" : "accounts";
  const label = { connected: "Live: connected", reconnecting: "Live: reconnecting…", offline: "Live: offline", connecting: "Live: connecting…" }[conn];
  return html`
    <header class="top">
      <span class="brand">wagraph console</span>
      <nav aria-label="Main">
        <a href="#/accounts" aria-current=${page !== "health" ? "page" : null}>Accounts</a>
        <a href="#/health" aria-current=${page === "health" ? "page" : null}>Health</a>
        <a href="/graphiql">GraphiQL</a>
      </nav>
      <span class=${"conn " + conn} role="status" id="connection">${label}</span>
      <span class="role">Signed in as ${role}</span>
      <button type="button" class="secondary" onClick=${signOut}>Sign out</button>
    </header>
    ${page === "health" ? html`<${Health} token=${token} />`
      : page === "account" ? html`<${AccountPage} key=${m[1]} id=${decodeURIComponent(m[1])} token=${token} role=${role} live=${live} epoch=${epoch} />`
      : html`<${Accounts} token=${token} role=${role} live=${live} epoch=${epoch} />`}
    <${Toasts} />`;
}

const root = document.getElementById("app");
root.textContent = "";
render(html`<${App} />`, root);
