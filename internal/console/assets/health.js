// The health screen: the server's components, accounts by status, contacts,
// messages by status (sent, and refused: failed), and for ADMIN the
// background jobs by state with the latest failures.
import { html, useState, useEffect, can, toastError, gql, fmtTime, Badge } from "./lib.js";

const STATUSES = ["PENDING", "AWAITING_SCAN", "AUTHENTICATING", "WARMING", "ACTIVE", "DISCONNECTED", "RECONNECTING", "LOGGED_OUT", "BANNED", "EXPIRED", "FAILED"];

// MESSAGE_STATUSES are counted with messages(filter: {status}) { totalCount }.
const MESSAGE_STATUSES = [["SENT", "Sent"], ["FAILED", "Failed (refused)"], ["QUEUED", "Queued"], ["SENDING", "Being sent"], ["CANCELED", "Canceled"]];

const JOB_STATES = ["PENDING", "AVAILABLE", "SCHEDULED", "RUNNING", "RETRYABLE", "COMPLETED", "CANCELLED", "DISCARDED"];
// FAILING are the states of jobs whose last attempt failed.
const FAILING = ["RETRYABLE", "DISCARDED"];

// jobsQuery asks for the job counts by state and the latest failing jobs
// (the jobs query is ADMIN only).
const jobsQuery = () => JOB_STATES.map((s) => `job_${s}: jobs(first: 1, filter: {state: ${s}}) { totalCount }`).join(" ") + " " +
  FAILING.map((s) => `failing_${s}: jobs(first: 5, filter: {state: ${s}}) { edges { node { id kind state attempts maxAttempts errors { attempt at message } } } }`).join(" ");

export function Health({ token, role }) {
  const admin = can(role, "ADMIN");
  const [data, setData] = useState(null);
  const load = async () => {
    try {
      const counts = STATUSES.map((s) => `${s}: accounts(first: 1, status: [${s}]) { totalCount }`).join(" ");
      setData(await gql(token, `{ health { status version uptimeSeconds components { name status error latencyMs } } ${counts} contacts(first: 1) { totalCount } optedOut: contacts(first: 1, filter: {optedOut: true}) { totalCount } personas(first: 1) { totalCount } ${MESSAGE_STATUSES.map(([s]) => `msg_${s}: messages(first: 0, filter: {status: ${s}}) { totalCount }`).join(" ")} ${admin ? jobsQuery() : ""} }`));
    } catch (e) { toastError(e); }
  };
  useEffect(() => { load(); }, [token]);
  if (!data) return html`<main><h1>Health</h1><p>Loading…</p></main>`;
  const hl = data.health;
  return html`<main>
    <h1>Health</h1>
    <p>Server <strong class="health-status">${hl.status}</strong>, version ${hl.version}, up ${Math.floor(hl.uptimeSeconds / 3600)} h ${Math.floor(hl.uptimeSeconds / 60) % 60} min.
      ${" "}<button type="button" class="secondary" onClick=${load}>Refresh</button></p>
    <h2>Components</h2>
    <table><thead><tr><th scope="col">Component</th><th scope="col">Status</th><th scope="col">Latency</th><th scope="col" class="optional">Error</th></tr></thead>
      <tbody>${hl.components.map((c) => html`<tr key=${c.name}><td>${c.name}</td><td>${c.status}</td><td>${c.latencyMs.toFixed(1)} ms</td><td class="optional">${c.error || ""}</td></tr>`)}</tbody></table>
    <h2>Accounts by status</h2>
    <ul class="tiles" aria-label="Accounts by status">
      ${STATUSES.map((s) => html`<li key=${s}><${Badge} status=${s} /> <strong>${data[s].totalCount}</strong></li>`)}
    </ul>
    <h2>Contacts</h2>
    <dl class="facts">
      <dt>Contacts</dt><dd><a href="#/contacts">${data.contacts.totalCount}</a></dd>
      <dt>Opted out</dt><dd><a href="#/contacts?optedOut=true">${data.optedOut.totalCount}</a></dd>
      <dt>Personas</dt><dd><a href="#/personas">${data.personas.totalCount}</a></dd>
    </dl>
    <h2>Messages</h2>
    <ul class="tiles messages-by-status" aria-label="Messages by status">
      ${MESSAGE_STATUSES.map(([s, label]) => html`<li key=${s} data-status=${s}><span>${label}</span> <strong>${data["msg_" + s].totalCount}</strong></li>`)}
    </ul>
    <p class="hint">All accounts, since the server's database began. The <a href="#/sending">sending screen</a> lists each account's messages with the reason a message failed or waits.</p>
    ${admin && data.job_AVAILABLE && html`<${Jobs} data=${data} />`}
  </main>`;
}

function Jobs({ data }) {
  const failing = FAILING.flatMap((s) => data["failing_" + s].edges.map((e) => e.node));
  return html`<section aria-labelledby="jobs-title">
    <h2 id="jobs-title">Background jobs</h2>
    <ul class="tiles jobs" aria-label="Background jobs by state">
      ${JOB_STATES.map((s) => html`<li key=${s}><span>${s.toLowerCase()}</span> <strong>${data["job_" + s].totalCount}</strong></li>`)}
    </ul>
    <h3>Latest failures</h3>
    ${failing.length === 0 ? html`<p>No job is failing.</p>` : html`<table class="failing">
      <thead><tr><th scope="col">Job</th><th scope="col">State</th><th scope="col" class="optional">Attempts</th><th scope="col">Last error</th></tr></thead>
      <tbody>${failing.map((j) => {
        const last = j.errors[j.errors.length - 1];
        return html`<tr key=${j.id}><td>${j.kind}</td><td>${j.state.toLowerCase()}</td><td class="optional">${j.attempts} of ${j.maxAttempts}</td>
          <td class="break">${last ? last.message + " (" + fmtTime(last.at) + ")" : "—"}</td></tr>`;
      })}</tbody></table>`}
  </section>`;
}
