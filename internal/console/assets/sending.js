// The sending screens: compose a message to a number or a contact, or a
// batch to a persona or the contacts filter (sendMessage, queueMessages);
// an account's batches and messages; one batch with its live progress
// (batchProgress) and cancelBatch behind a confirmation dialog.
// Routes: #/sending?account=<id>[&to=<contact id>][&<contacts filter>],
// #/batches/<id>.
import { html, useState, useEffect, useRef, can, toast, toastError, gql, useSubscription, fmtTime, Badge, ConfirmDialog } from "./lib.js";
import { parseFilter, filterQuery, FILTER_KEYS } from "./contacts.js";
import { RateLimits } from "./ratelimits.js";

// PAGE is how many messages or batches one page shows.
const PAGE = 20;
// MOVING_REFRESH is how often a list with messages on their way is read
// again, in milliseconds.
const MOVING_REFRESH = 3000;

// PLACEHOLDERS are what queueMessages fills in per contact (docs/sending.md
// "Placeholders"), with what each gives.
export const PLACEHOLDERS = [
  ["{{name}}", "full name, else WhatsApp name, else business name"],
  ["{{first_name}}", "first word of the name"],
  ["{{full_name}}", "full name"],
  ["{{push_name}}", "WhatsApp name"],
  ["{{business_name}}", "business name"],
  ["{{phone}}", "number"],
  ["{{attr.KEY}}", "an attribute, e.g. {{attr.city}}"],
  ["{{name|there}}", "a fallback for a missing value"],
];

const STATUSES = ["QUEUED", "SENDING", "SENT", "FAILED", "CANCELED"];
const MESSAGE = "id batchId to contactId text status sentAt error { code message suggestion } wait { code until } createdAt";
export const BATCH = "id accountId text startAt jitterSeconds total skippedOptedOut skippedNoPhone sent failed canceled pending done version createdAt canceledAt";

// WAITS says in words why a queued message waits.
const WAITS = {
  RATE_LIMITED: "the account's limits are used up",
  SENDING_PAUSED: "the account's sending is paused",
  ACCOUNT_NOT_ACTIVE: "the account has no live WhatsApp session",
};

// newKey is a fresh idempotency key: one per composed message, so that a
// double click or a retry after a lost answer sends it once.
function newKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return "console-" + [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

// parseCount reads an optional whole number typed into the field label.
function whole(v, label) {
  const t = String(v).trim();
  if (t === "") return null;
  if (!/^\d+$/.test(t)) {
    const err = new Error(`${label}: “${t}” is not a whole number.`);
    err.suggestion = "Type digits only, e.g. 30.";
    throw err;
  }
  return Number(t);
}

// done is how many of a batch's messages are finished.
const finished = (b) => b.sent + b.failed + b.canceled;

// Progress is a batch's progress bar with its counts.
export function Progress({ b }) {
  const pct = b.total ? Math.round((100 * finished(b)) / b.total) : 100;
  return html`<div class="progress">
    <progress max=${Math.max(b.total, 1)} value=${b.total ? finished(b) : 1} aria-label=${`${finished(b)} of ${b.total} messages finished`}></progress>
    <span>${pct} %</span>
  </div>`;
}

function MessageDetail({ m }) {
  if (m.status === "SENT") return html`<span>Sent ${fmtTime(m.sentAt)}</span>`;
  if (m.error) return html`<span class="msg-error"><strong>${m.error.code}</strong>: ${m.error.message} <span class="suggestion">${m.error.suggestion}</span></span>`;
  if (m.wait) return html`<span class="msg-wait">Waits (${m.wait.code}): ${WAITS[m.wait.code] || m.wait.code}; tried again ${fmtTime(m.wait.until)}.</span>`;
  return html`<span>—</span>`;
}

// Messages lists messages matching filter (accountId or batchId), newest
// first, with a status filter; it loads again when reload changes.
export function Messages({ token, filter, reload, title }) {
  const [status, setStatus] = useState("");
  const [list, setList] = useState(null);
  const [page, setPage] = useState({ total: 0, hasNext: false, end: null });
  const seq = useRef(0);
  const f = { ...filter, ...(status ? { status } : {}) };
  const fetchPage = async (after) => {
    const d = await gql(token, `query($f: MessageFilter, $n: Int, $after: String) { messages(filter: $f, first: $n, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { ${MESSAGE} } } } }`, { f, n: PAGE, after });
    return [d.messages.edges.map((e) => e.node), { total: d.messages.totalCount, hasNext: d.messages.pageInfo.hasNextPage, end: d.messages.pageInfo.endCursor }];
  };
  const load = async () => {
    const n = ++seq.current;
    try {
      const [l, pg] = await fetchPage(null);
      if (n === seq.current) { setList(l); setPage(pg); }
    } catch (e) { toastError(e); }
  };
  const more = async () => {
    try {
      const [next, pg] = await fetchPage(page.end);
      setList((xs) => [...xs.filter((x) => !next.some((n) => n.id === x.id)), ...next]);
      setPage(pg);
    } catch (e) { toastError(e); }
  };
  useEffect(() => { load(); }, [token, JSON.stringify(f), reload]);
  // There is no subscription for messages: while one shown is on its way,
  // the list is read again every few seconds.
  const moving = !!list && list.some((m) => m.status === "QUEUED" || m.status === "SENDING");
  useEffect(() => {
    if (!moving) return undefined;
    const t = setInterval(load, MOVING_REFRESH);
    return () => clearInterval(t);
  }, [moving, token, JSON.stringify(f)]);
  return html`<section aria-labelledby="messages-title" class="messages">
    <h2 id="messages-title">${title || "Messages"}</h2>
    <form class="filters" aria-label="Filter messages" onSubmit=${(e) => e.preventDefault()}>
      <div><label for="m-status">Status</label>
        <select id="m-status" value=${status} onChange=${(e) => setStatus(e.target.value)}>
          <option value="">Any</option>
          ${STATUSES.map((s) => html`<option value=${s}>${s.toLowerCase()}</option>`)}
        </select></div>
    </form>
    <div class="toolbar">
      <p class="count" aria-live="polite">${list ? `${page.total} ${page.total === 1 ? "message" : "messages"}${status ? " " + status.toLowerCase() : ""}.` : "Loading messages…"}</p>
      <button type="button" class="secondary" onClick=${load}>Refresh</button>
    </div>
    ${list && list.length > 0 && html`<table class="messages">
      <thead><tr><th scope="col">To</th><th scope="col">Status</th><th scope="col">Details</th><th scope="col" class="optional">Text</th></tr></thead>
      <tbody>${list.map((m) => html`<tr key=${m.id}>
        <td class="nowrap">${m.contactId ? html`<a href=${"#/contacts/" + encodeURIComponent(m.contactId)}>${m.to}</a>` : m.to}</td>
        <td><${Badge} status=${m.status} /></td>
        <td class="break"><${MessageDetail} m=${m} /></td>
        <td class="optional break">${m.text}</td>
      </tr>`)}</tbody></table>`}
    ${page.hasNext && html`<div class="buttons"><button type="button" class="secondary" onClick=${more}>Show more</button></div>`}
  </section>`;
}

// Batches lists an account's batches, newest first, each with its progress.
function Batches({ token, accountId, reload }) {
  const [list, setList] = useState(null);
  const [page, setPage] = useState({ total: 0, hasNext: false, end: null });
  const fetchPage = async (after) => {
    const d = await gql(token, `query($id: ID!, $n: Int, $after: String) { batches(accountId: $id, first: $n, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { ${BATCH} } } } }`, { id: accountId, n: PAGE, after });
    return [d.batches.edges.map((e) => e.node), { total: d.batches.totalCount, hasNext: d.batches.pageInfo.hasNextPage, end: d.batches.pageInfo.endCursor }];
  };
  useEffect(() => {
    let stale = false;
    fetchPage(null).then(([l, pg]) => { if (!stale) { setList(l); setPage(pg); } }, toastError);
    return () => { stale = true; };
  }, [token, accountId, reload]);
  const more = async () => {
    try {
      const [next, pg] = await fetchPage(page.end);
      setList((xs) => [...xs, ...next.filter((n) => !xs.some((x) => x.id === n.id))]);
      setPage(pg);
    } catch (e) { toastError(e); }
  };
  return html`<section aria-labelledby="batches-title">
    <h2 id="batches-title">Batches</h2>
    ${!list ? html`<p>Loading batches…</p>` : list.length === 0 ? html`<p>No batch yet.</p>` : html`<table class="batches">
      <thead><tr><th scope="col">Queued</th><th scope="col">Progress</th><th scope="col" class="optional">Text</th></tr></thead>
      <tbody>${list.map((b) => html`<tr key=${b.id}>
        <td class="nowrap"><a href=${"#/batches/" + encodeURIComponent(b.id)} aria-label=${"Batch of " + fmtTime(b.createdAt)}>${fmtTime(b.createdAt)}</a></td>
        <td><${Progress} b=${b} /><span class="hint">${b.sent} sent, ${b.failed} failed, ${b.canceled} canceled, ${b.pending} to go${b.done ? " — done" : ""}</span></td>
        <td class="optional break">${b.text}</td>
      </tr>`)}</tbody></table>`}
    ${page.hasNext && html`<div class="buttons"><button type="button" class="secondary" onClick=${more}>Show more</button></div>`}
  </section>`;
}

// Compose writes one message or a batch from the account.
function Compose({ token, account, personas, query, onSent }) {
  const q = new URLSearchParams(query || "");
  const filter = parseFilter(query);
  const hasFilter = Object.keys(filter).length > 0;
  const [mode, setMode] = useState(hasFilter ? "filter" : q.get("personaId") ? "persona" : "one");
  const [to, setTo] = useState(q.get("to") || "");
  const [persona, setPersona] = useState("");
  const [text, setText] = useState("");
  const [startAt, setStartAt] = useState("");
  const [jitter, setJitter] = useState("");
  const [matching, setMatching] = useState(null);
  const [contact, setContact] = useState(null); // the contact given as ?to=<id>
  const [busy, setBusy] = useState(false);
  const key = useRef(newKey());
  const inFlight = useRef(false);
  const textRef = useRef(null);
  useEffect(() => {
    if (!hasFilter) return;
    gql(token, `query($f: ContactFilter) { contacts(first: 0, filter: $f) { totalCount } }`, { f: filter })
      .then((d) => setMatching(d.contacts.totalCount), toastError);
  }, [token, filterQuery(filter)]);

  useEffect(() => {
    const id = q.get("to");
    if (!id || id.startsWith("+")) return;
    gql(token, `query($id: ID!) { contact(id: $id) { id fullName pushName businessName phoneNumber } }`, { id })
      .then((d) => setContact(d.contact), () => setContact(null));
  }, [token, q.get("to")]);

  // insert puts a placeholder at the text's cursor.
  const insert = (p) => {
    const el = textRef.current;
    const at = el ? el.selectionStart : text.length;
    const end = el ? el.selectionEnd : text.length;
    const next = text.slice(0, at) + p + text.slice(end);
    setText(next);
    requestAnimationFrame(() => { if (el) { el.focus(); el.setSelectionRange(at + p.length, at + p.length); } });
  };

  const submit = async (ev) => {
    ev.preventDefault();
    if (inFlight.current) return; // a second click before the answer
    inFlight.current = true;
    setBusy(true);
    try {
      if (mode === "one") {
        const d = await gql(token, `mutation($in: SendMessageInput!) { sendMessage(input: $in) { message { id status to } } }`,
          { in: { accountId: account.id, to: to.trim(), text, idempotencyKey: key.current } });
        toast("info", `The message to ${d.sendMessage.message.to} is queued; it goes as soon as the account's limits allow.`);
        setTo("");
      } else {
        const input = { accountId: account.id, text, recipients: mode === "persona" ? { personaId: persona } : { filter } };
        if (startAt) input.startAt = new Date(startAt).toISOString();
        const j = whole(jitter, "Jitter");
        if (j != null) input.jitterSeconds = j;
        const d = await gql(token, `mutation($in: QueueMessagesInput!) { queueMessages(input: $in) { batch { ${BATCH} } } }`, { in: input });
        const b = d.queueMessages.batch;
        const skipped = b.skippedOptedOut + b.skippedNoPhone;
        toast("info", `${b.total} ${b.total === 1 ? "message" : "messages"} queued${skipped ? `; ${b.skippedOptedOut} opted out and ${b.skippedNoPhone} without a number skipped` : ""}.`);
        location.hash = "#/batches/" + encodeURIComponent(b.id);
      }
      setText("");
      key.current = newKey();
      onSent();
    } catch (e) {
      toastError(e);
    } finally {
      inFlight.current = false;
      setBusy(false);
    }
  };

  const batch = mode !== "one";
  return html`<form class="compose panel" onSubmit=${submit} aria-labelledby="compose-title">
    <h2 id="compose-title">Compose</h2>
    <fieldset><legend>To</legend>
      <label class="check"><input type="radio" name="mode" value="one" checked=${mode === "one"} onChange=${() => setMode("one")} /> One number or contact</label>
      <label class="check"><input type="radio" name="mode" value="persona" checked=${mode === "persona"} onChange=${() => setMode("persona")} /> Every contact of a persona</label>
      ${hasFilter && html`<label class="check"><input type="radio" name="mode" value="filter" checked=${mode === "filter"} onChange=${() => setMode("filter")} /> The contacts matching the filter</label>`}
    </fieldset>
    ${mode === "one" && html`<div><label for="send-to">Number or contact id</label>
      <input id="send-to" type="text" value=${to} onInput=${(e) => setTo(e.target.value)} placeholder="+49 151 23456789" autocomplete="off" />
      ${contact && to === contact.id ? html`<p class="to-contact">To the contact <strong>${contact.fullName || contact.pushName || contact.businessName || "(no name)"}</strong>, ${contact.phoneNumber}.</p>`
        : html`<p class="hint">A number in international format, or a contact's id (“Send a message” on a contact fills it in).</p>`}</div>`}
    ${mode === "persona" && html`<div><label for="send-persona">Persona</label>
      <select id="send-persona" value=${persona} onChange=${(e) => setPersona(e.target.value)}>
        <option value="">Choose…</option>
        ${personas.map((p) => html`<option value=${p.id}>${p.name} (${p.contactCount})</option>`)}
      </select></div>`}
    ${mode === "filter" && html`<p class="filter-summary">${matching == null ? "Counting…" : `${matching} ${matching === 1 ? "contact matches" : "contacts match"}`} the filter
      <a href=${"#/contacts?" + filterQuery(filter)}>${FILTER_KEYS.filter((k) => filter[k] != null).map((k) => k + "=" + filter[k]).join(", ")}</a>.</p>`}
    <div><label for="send-text">Text</label>
      <textarea id="send-text" ref=${textRef} rows="4" maxlength="4096" value=${text} onInput=${(e) => setText(e.target.value)}></textarea>
      <p class="hint">${text.length} of 4096 characters.${batch ? "" : " Sent as written: placeholders are filled in for batches only."}</p></div>
    ${batch && html`<div class="placeholders">
      <p id="placeholders-title"><strong>Placeholders</strong>, filled in per contact (click to insert):</p>
      <ul aria-labelledby="placeholders-title">${PLACEHOLDERS.map(([p, what]) => html`<li key=${p}><button type="button" class="link" onClick=${() => insert(p)}><code>${p}</code></button> ${what}</li>`)}</ul>
    </div>
    <div class="inline">
      <div><label for="send-start">Start at (optional)</label>
        <input id="send-start" type="datetime-local" value=${startAt} onInput=${(e) => setStartAt(e.target.value)} /></div>
      <div><label for="send-jitter">Jitter, seconds (optional)</label>
        <input id="send-jitter" class="short" inputmode="numeric" value=${jitter} onInput=${(e) => setJitter(e.target.value)} placeholder="0" /></div>
    </div>
    <p class="hint">Each message goes a random 0 to <em>jitter</em> seconds after the one before it; the account's limits pace them too. Opted-out contacts are skipped.</p>`}
    ${account.status !== "ACTIVE" && html`<p class="hint">“${account.name}” is ${account.status.replace(/_/g, " ")}: messages wait until it is ACTIVE.</p>`}
    <div class="buttons"><button type="submit" disabled=${busy}>${batch ? "Queue messages" : "Send message"}</button></div>
  </form>`;
}

export function Sending({ token, role, live, epoch, query }) {
  const q = new URLSearchParams(query || "");
  const [opts, setOpts] = useState(null);
  const [reload, setReload] = useState(0);
  const canWrite = can(role, "OPERATOR");
  useEffect(() => {
    gql(token, "{ accounts(first: 100) { edges { node { id name status } } } personas(first: 100) { edges { node { id name contactCount } } } }")
      .then((d) => setOpts({ accounts: d.accounts.edges.map((e) => e.node), personas: d.personas.edges.map((e) => e.node) }), toastError);
  }, [token, epoch]);
  if (!opts) return html`<main><h1>Sending</h1><p>Loading…</p></main>`;
  const account = opts.accounts.find((a) => a.id === q.get("account")) || opts.accounts[0];
  const pick = (e) => {
    q.set("account", e.target.value);
    location.hash = "#/sending?" + q.toString();
  };
  return html`<main>
    <h1>Sending</h1>
    ${!account ? html`<p>There is no account yet. <a href="#/accounts">Create one</a> and link it first.</p>` : html`
    <form class="filters" aria-label="Account" onSubmit=${(e) => e.preventDefault()}>
      <div class="wide"><label for="send-account">From the account</label>
        <select id="send-account" value=${account.id} onChange=${pick}>
          ${opts.accounts.map((a) => html`<option value=${a.id}>${a.name} (${a.status.replace(/_/g, " ").toLowerCase()})</option>`)}
        </select></div>
    </form>
    ${canWrite && html`<${Compose} key=${account.id} token=${token} account=${account} personas=${opts.personas} query=${query} onSent=${() => setReload((n) => n + 1)} />`}
    <${RateLimits} key=${"rl" + account.id} accountId=${account.id} token=${token} role=${role} live=${live} />
    <${Batches} token=${token} accountId=${account.id} reload=${reload + "/" + epoch} />
    <${Messages} token=${token} filter=${{ accountId: account.id }} reload=${reload + "/" + epoch} title="The account's messages" />`}
  </main>`;
}

// BatchPage is one batch: its counts live from batchProgress, a progress
// bar, its messages, and Cancel… for OPERATOR and up while it is not done.
export function BatchPage({ id, token, role, live, epoch }) {
  const [b, setB] = useState(null);
  const [account, setAccount] = useState(null);
  const [confirm, setConfirm] = useState(false);
  const [reload, setReload] = useState(0);
  const canWrite = can(role, "OPERATOR");
  useEffect(() => {
    gql(token, `query($id: ID!) { batch(id: $id) { ${BATCH} } }`, { id }).then((d) => {
      setB((cur) => (cur && cur.version > d.batch.version ? cur : d.batch));
      gql(token, `query($id: ID!) { account(id: $id) { id name } }`, { id: d.batch.accountId }).then((a) => setAccount(a.account), () => {});
    }, toastError);
  }, [id, token, epoch]);
  useSubscription(live, `subscription($id: ID!) { batchProgress(batchId: $id) { snapshot batch { ${BATCH} } } }`, { id }, (d) => {
    const nb = d.batchProgress.batch;
    setB((cur) => (cur && cur.version > nb.version ? cur : nb));
  }, [id]);
  // The messages list follows the counts, at most about once a second.
  // and at once when the batch is done.
  const version = b ? b.version : 0;
  const isDone = !!b && b.done;
  useEffect(() => {
    const t = setTimeout(() => setReload((n) => n + 1), isDone ? 0 : 700);
    return () => clearTimeout(t);
  }, [version, isDone]);

  const cancel = async () => {
    setConfirm(false);
    try {
      const d = await gql(token, `mutation($id: ID!) { cancelBatch(input: {id: $id}) { batch { ${BATCH} } } }`, { id });
      const nb = d.cancelBatch.batch;
      setB((cur) => (cur && cur.version > nb.version ? cur : nb));
      toast("info", `The batch is canceled: ${nb.canceled} ${nb.canceled === 1 ? "message" : "messages"} will not be sent.`);
    } catch (e) { toastError(e); }
  };

  if (!b) return html`<main><p><a href="#/sending">← Sending</a></p><p>Loading the batch…</p></main>`;
  const back = "#/sending?account=" + encodeURIComponent(b.accountId);
  const state = b.done ? (b.canceledAt ? ["CANCELED", "Canceled"] : ["DONE", "Done"])
    : finished(b) === 0 && Date.parse(b.startAt) > Date.now() ? ["QUEUED", "Scheduled"] : ["RUNNING", "Sending"];
  return html`<main class="batch">
    <p><a href=${back}>← Sending${account ? " from " + account.name : ""}</a></p>
    <h1>Batch of ${fmtTime(b.createdAt)} <span class=${"badge batch-state " + state[0]}>${state[1]}</span></h1>
    <blockquote class="batch-text break">${b.text}</blockquote>
    <${Progress} b=${b} />
    <dl class="facts counts" aria-live="polite">
      <dt>Queued</dt><dd data-count="total">${b.total}</dd>
      <dt>Sent</dt><dd data-count="sent">${b.sent}</dd>
      <dt>Failed</dt><dd data-count="failed">${b.failed}</dd>
      <dt>Canceled</dt><dd data-count="canceled">${b.canceled}</dd>
      <dt>To go</dt><dd data-count="pending">${b.pending}</dd>
      <dt>Skipped</dt><dd data-count="skipped">${b.skippedOptedOut} opted out, ${b.skippedNoPhone} without a number</dd>
      <dt>Starts</dt><dd>${fmtTime(b.startAt)}${b.jitterSeconds ? `, up to ${b.jitterSeconds} s between two messages` : ""}</dd>
      ${b.canceledAt && html`<dt>Canceled at</dt><dd>${fmtTime(b.canceledAt)}</dd>`}
    </dl>
    ${canWrite && !b.done && html`<div class="buttons"><button type="button" class="danger" onClick=${() => setConfirm(true)}>Cancel batch…</button></div>`}
    <${Messages} token=${token} filter=${{ batchId: id }} reload=${reload} title="The batch's messages" />
    ${confirm && html`<${ConfirmDialog} title="Cancel this batch?" confirmLabel="Cancel the batch" onConfirm=${cancel} onClose=${() => setConfirm(false)}>
      <p>The ${b.pending} ${b.pending === 1 ? "message" : "messages"} not handed to WhatsApp yet will not be sent. Messages already sent stay sent.</p>
    </${ConfirmDialog}>`}
  </main>`;
}
