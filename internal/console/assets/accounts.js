// The accounts list and an account's page (QR, pairing code, reset, history,
// rate limits).
import { html, useState, useEffect, useRef, RANK, toast, toastError, gql, useSubscription, fmtTime, Badge, ConfirmDialog } from "./lib.js";
import { RateLimits } from "./ratelimits.js";

const ACCOUNT_FIELDS = "id name status version phoneNumber statusReason { code message suggestion }";
const PAGE = 50;

export function Accounts({ token, role, live, epoch }) {
  const [accounts, setAccounts] = useState(null);
  const [name, setName] = useState("");
  const [renaming, setRenaming] = useState(null); // { id, name }
  const [deleting, setDeleting] = useState(null); // account
  const canWrite = RANK[role] >= RANK.OPERATOR;
  const canDelete = RANK[role] >= RANK.ADMIN;

  // Live events that arrive while the list loads win over the loaded list
  // when newer (id -> account, or null when deleted).
  const during = useRef(null);
  // Pages of PAGE accounts; "Show more" continues after the last one.
  const [page, setPage] = useState({ total: 0, hasNext: false, end: null });
  const load = async () => {
    const seen = new Map();
    during.current = seen;
    try {
      const data = await gql(token, `query($n: Int) { accounts(first: $n) { totalCount pageInfo { hasNextPage endCursor } edges { node { ${ACCOUNT_FIELDS} } } } }`, { n: PAGE });
      let list = data.accounts.edges.map((e) => e.node);
      const pi = data.accounts.pageInfo;
      for (const [id, acc] of seen) {
        if (!acc) { list = list.filter((x) => x.id !== id); continue; }
        const i = list.findIndex((x) => x.id === id);
        if (i >= 0 && list[i].version <= acc.version) list[i] = acc;
        else if (i < 0 && !pi.hasNextPage) list.push(acc);
      }
      setAccounts(list);
      setPage({ total: Math.max(data.accounts.totalCount, list.length), hasNext: pi.hasNextPage, end: pi.endCursor });
    } catch (e) { toastError(e); setAccounts((xs) => xs || []); }
    if (during.current === seen) during.current = null;
  };
  const more = async () => {
    try {
      const data = await gql(token, `query($n: Int, $after: String) { accounts(first: $n, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { ${ACCOUNT_FIELDS} } } } }`, { n: PAGE, after: page.end });
      const next = data.accounts.edges.map((e) => e.node);
      setAccounts((xs) => [...(xs || []).filter((x) => !next.some((n) => n.id === x.id)), ...next]);
      const pi = data.accounts.pageInfo;
      setPage({ total: data.accounts.totalCount, hasNext: pi.hasNextPage, end: pi.endCursor || page.end });
    } catch (e) { toastError(e); }
  };
  // Load again on every (re)connection: changes made while the live
  // connection was down (deletions among them) show up.
  useEffect(() => { load(); }, [token, epoch]);

  // An account not in the list is new, unless the list has more pages: then
  // it is on one of those (the list is in creation order) and shows with
  // "Show more".
  const hasNext = useRef(false);
  hasNext.current = page.hasNext;
  const upsert = (acc) => { if (during.current) during.current.set(acc.id, acc); setAccounts((xs) => {
    const list = xs || [];
    const i = list.findIndex((x) => x.id === acc.id);
    if (i < 0 && hasNext.current) return list;
    if (i < 0) { setPage((p) => ({ ...p, total: p.total + 1 })); return [...list, acc]; }
    if (list[i].version > acc.version) return list;
    const next = list.slice();
    next[i] = { ...list[i], ...acc };
    return next;
  }); };
  const drop = (id) => {
    if (during.current) during.current.set(id, null);
    setAccounts((xs) => {
      const list = xs || [];
      if (list.some((x) => x.id === id)) setPage((p) => ({ ...p, total: Math.max(0, p.total - 1) }));
      return list.filter((x) => x.id !== id);
    });
  };
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
    </ul>
    <p class="hint paging">Showing ${accounts.length} of ${Math.max(page.total, accounts.length)} accounts.
      ${page.hasNext && html` <button type="button" class="secondary" onClick=${more}>Show more</button>`}</p>`}
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

export function AccountPage({ id, token, role, live, epoch }) {
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

    ${code && (code.image || code.pairingCode) && html`<section class="panel qr" aria-labelledby="link-title">
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

    <p><a href=${"#/sending?account=" + encodeURIComponent(id)}>Sending from this account: compose, batches, messages →</a></p>
    <${RateLimits} accountId=${id} token=${token} role=${role} live=${live} />

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
