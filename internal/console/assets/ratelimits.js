// An account's send limits: a gauge per window (used of max, when it frees
// up again), the warm-up, the pause in force, and for OPERATOR and up a form
// to set the account's own limits or go back to the defaults, and Pause /
// Resume. The gauges are live (rateLimitChanged; graphql-ws resubscribes
// after a drop and the subscription starts with the status now).
import { html, useState, useEffect, can, toast, toastError, gql, useSubscription, fmtTime } from "./lib.js";

const WINDOW = "max windowSeconds used remaining nextFreeAt resetAt";
const STATUS = `accountId windows { ${WINDOW} } newChats { ${WINDOW} } configured { limits { max windowSeconds } newChatsPerDay custom updatedAt } linkedAt warmupDay warmupCap paused pause { reason code since until message }`;

// Pause shows the pause in force; OPERATOR and up may resume.
function Pause({ p, canWrite, onResume }) {
  return html`<div class="pause panel" role="status">
    <p><strong>Sending is paused</strong> <span class="badge PAUSED">${p.reason.replace(/_/g, " ")}</span>${p.code != null ? ` (WhatsApp code ${p.code})` : ""}</p>
    <p>${p.message}</p>
    <p class="hint">Since ${fmtTime(p.since)}; ${p.until ? "sending resumes by itself at " + fmtTime(p.until) + "." : "until someone resumes it."} Queued messages wait; nothing is lost or counted. The user guide says what to do for each reason.</p>
    ${canWrite && html`<div class="buttons"><button type="button" onClick=${onResume}>Resume sending</button></div>`}
  </div>`;
}

// windowName says a window's length in words: "minute", "hour", "24 hours", "90 s".
export function windowName(s) {
  const named = { 60: "minute", 3600: "hour", 86400: "24 hours", 604800: "7 days" };
  if (named[s]) return named[s];
  if (s % 86400 === 0) return s / 86400 + " days";
  if (s % 3600 === 0) return s / 3600 + " hours";
  if (s % 60 === 0) return s / 60 + " minutes";
  return s + " s";
}

// warmup says where the account is in the warm-up of a newly linked number.
function warmup(st) {
  if (st.warmupCap != null && st.warmupDay > 0) return `Warm-up day ${st.warmupDay}: at most ${st.warmupCap} sends in 24 hours today.`;
  if (st.warmupCap != null) return `Not linked yet: the warm-up allows at most ${st.warmupCap} sends in 24 hours until the phone links and the days count.`;
  if (st.warmupDay > 0) return `Linked ${fmtTime(st.linkedAt)}; the warm-up is over.`;
  return "No warm-up (RATE_LIMIT_WARMUP=off).";
}

function Gauge({ w, label }) {
  const full = w.remaining === 0;
  return html`<div class=${"gauge" + (full ? " full" : "")}>
    <div class="gauge-head"><span>${label}</span><strong>${w.used} / ${w.max}</strong></div>
    <meter min="0" max=${w.max} value=${w.used} high=${Math.max(0, w.max - 1)} optimum="0" aria-label=${label + ": " + w.used + " of " + w.max + " used"}></meter>
    <p class="hint">${full ? "Full: the next send waits until " + fmtTime(w.nextFreeAt) + "." : w.remaining + " left."}${w.resetAt ? " Back to 0 at " + fmtTime(w.resetAt) + "." : ""}</p>
  </div>`;
}

// toRows turns configured limits into the form's rows (strings, as typed).
const toRows = (c) => c.limits.map((l) => ({ max: String(l.max), windowSeconds: String(l.windowSeconds) }));

// parseCount reads a whole number typed into a field named label.
function parseCount(v, label) {
  const t = String(v).trim();
  if (!/^\d+$/.test(t)) {
    const err = new Error(`${label}: “${t}” is not a whole number.`);
    err.suggestion = "Type digits only, e.g. 60.";
    throw err;
  }
  return Number(t);
}

export function RateLimits({ accountId, token, role, live }) {
  const [st, setSt] = useState(null);
  const [at, setAt] = useState(null);
  const [edit, setEdit] = useState(null); // { rows: [{max, windowSeconds}], newChats }
  const [pauseDraft, setPauseDraft] = useState({ note: "", until: "" });
  const canWrite = can(role, "OPERATOR");
  const show = (s) => { setSt(s); setAt(new Date()); };

  useEffect(() => {
    gql(token, `query($id: ID!) { rateLimitStatus(accountId: $id) { ${STATUS} } }`, { id: accountId })
      .then((d) => show(d.rateLimitStatus), toastError);
  }, [accountId, token]);
  useSubscription(live, `subscription($id: ID!) { rateLimitChanged(accountId: $id) { ${STATUS} } }`, { id: accountId },
    (d) => show(d.rateLimitChanged), [accountId]);

  const pause = async (ev) => {
    ev.preventDefault();
    const input = { accountId };
    if (pauseDraft.note.trim()) input.note = pauseDraft.note.trim();
    if (pauseDraft.until) input.until = new Date(pauseDraft.until).toISOString();
    try {
      const d = await gql(token, `mutation($in: PauseSendingInput!) { pauseSending(input: $in) { status { ${STATUS} } } }`, { in: input });
      show(d.pauseSending.status);
      setPauseDraft({ note: "", until: "" });
      toast("info", "Sending is paused: queued messages wait.");
    } catch (e) { toastError(e); }
  };
  const resume = async () => {
    try {
      const d = await gql(token, `mutation($id: ID!) { resumeSending(input: {accountId: $id}) { status { ${STATUS} } } }`, { id: accountId });
      show(d.resumeSending.status);
      toast("info", "Sending resumed.");
    } catch (e) { toastError(e); }
  };

  const save = async (ev) => {
    ev.preventDefault();
    let input;
    try {
      input = {
        accountId,
        limits: edit.rows.map((r, i) => ({ max: parseCount(r.max, `Limit ${i + 1}, sends`), windowSeconds: parseCount(r.windowSeconds, `Limit ${i + 1}, window`) })),
      };
      if (String(edit.newChats).trim() !== "") input.newChatsPerDay = parseCount(edit.newChats, "New chats per 24 hours");
    } catch (e) { toastError(e); return; }
    try {
      const d = await gql(token, `mutation($in: SetRateLimitsInput!) { setRateLimits(input: $in) { status { ${STATUS} } } }`, { in: input });
      show(d.setRateLimits.status);
      setEdit(null);
      toast("info", "The account's own limits are saved.");
    } catch (e) { toastError(e); }
  };
  const reset = async () => {
    try {
      const d = await gql(token, `mutation($id: ID!) { resetRateLimits(input: {accountId: $id}) { status { ${STATUS} } } }`, { id: accountId });
      show(d.resetRateLimits.status);
      setEdit(null);
      toast("info", "The account sends under the default limits again.");
    } catch (e) { toastError(e); }
  };
  const setRow = (i, k, v) => setEdit((e) => ({ ...e, rows: e.rows.map((r, j) => (j === i ? { ...r, [k]: v } : r)) }));

  if (!st) return html`<section class="ratelimits" aria-labelledby="limits-title"><h2 id="limits-title">Send limits</h2><p>Loading…</p></section>`;
  const cfg = st.configured;
  return html`<section class="ratelimits" aria-labelledby="limits-title">
    <h2 id="limits-title">Send limits</h2>
    <p class="hint">${cfg.custom ? "This account's own limits, set " + fmtTime(cfg.updatedAt) + "." : "The server's default limits."}
      ${" " + warmup(st)}
      ${at && html` <span class="updated">Live; updated ${at.toLocaleTimeString()}.</span>`}</p>
    ${st.paused && st.pause && html`<${Pause} p=${st.pause} canWrite=${canWrite} onResume=${resume} />`}
    <div class="gauges">
      ${st.windows.map((w) => html`<${Gauge} key=${w.windowSeconds} w=${w} label=${"Per " + windowName(w.windowSeconds)} />`)}
      <${Gauge} w=${st.newChats} label="New chats per 24 hours" />
    </div>
    ${canWrite && !st.paused && html`<form class="inline pause-form" onSubmit=${pause} aria-label="Pause sending">
      <div><label for="pause-note">Why (optional)</label>
        <input id="pause-note" maxlength="500" value=${pauseDraft.note} onInput=${(e) => setPauseDraft({ ...pauseDraft, note: e.target.value })} placeholder="Campaign under review" /></div>
      <div><label for="pause-until">Until (optional)</label>
        <input id="pause-until" type="datetime-local" value=${pauseDraft.until} onInput=${(e) => setPauseDraft({ ...pauseDraft, until: e.target.value })} /></div>
      <button type="submit" class="secondary">Pause sending</button>
    </form>`}
    ${canWrite && !edit && html`<div class="buttons">
      <button type="button" class="secondary" onClick=${() => setEdit({ rows: toRows(cfg), newChats: String(cfg.newChatsPerDay) })}>Change limits</button>
      ${cfg.custom && html`<button type="button" class="secondary" onClick=${reset}>Use the defaults</button>`}
    </div>`}
    ${canWrite && edit && html`<form class="limits-form panel" onSubmit=${save} aria-label="Send limits" novalidate>
      <p class="hint">At most <em>sends</em> in any <em>window</em> (seconds: 60 a minute, 3600 an hour, 86400 a day), shortest window first.</p>
      ${edit.rows.map((r, i) => html`<fieldset key=${i}><legend>Limit ${i + 1}</legend>
        <div><label for=${"limit-max-" + i}>Sends</label>
          <input id=${"limit-max-" + i} inputmode="numeric" value=${r.max} onInput=${(e) => setRow(i, "max", e.target.value)} /></div>
        <div><label for=${"limit-window-" + i}>Window (seconds)</label>
          <input id=${"limit-window-" + i} inputmode="numeric" value=${r.windowSeconds} onInput=${(e) => setRow(i, "windowSeconds", e.target.value)} /></div>
        <button type="button" class="secondary" aria-label=${"Remove limit " + (i + 1)} onClick=${() => setEdit((e) => ({ ...e, rows: e.rows.filter((_, j) => j !== i) }))}>Remove</button>
      </fieldset>`)}
      <div class="buttons"><button type="button" class="secondary" onClick=${() => setEdit((e) => ({ ...e, rows: [...e.rows, { max: "", windowSeconds: "" }] }))}>Add a limit</button></div>
      <div><label for="limit-new-chats">New chats per 24 hours</label>
        <input id="limit-new-chats" inputmode="numeric" value=${edit.newChats} onInput=${(e) => setEdit({ ...edit, newChats: e.target.value })} />
        <p class="hint">Leave empty for the server's default.</p></div>
      <div class="buttons">
        <button type="submit">Save limits</button>
        <button type="button" class="secondary" onClick=${() => setEdit(null)}>Cancel</button>
      </div>
    </form>`}
  </section>`;
}
