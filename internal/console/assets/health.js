// The health screen: the server's components and accounts by status.
import { html, useState, useEffect, toastError, gql, Badge } from "./lib.js";

const STATUSES = ["PENDING", "AWAITING_SCAN", "AUTHENTICATING", "WARMING", "ACTIVE", "DISCONNECTED", "RECONNECTING", "LOGGED_OUT", "BANNED", "EXPIRED", "FAILED"];

export function Health({ token }) {
  const [data, setData] = useState(null);
  const load = async () => {
    try {
      const counts = STATUSES.map((s) => `${s}: accounts(first: 1, status: [${s}]) { totalCount }`).join(" ");
      setData(await gql(token, `{ health { status version uptimeSeconds components { name status error latencyMs } } ${counts} contacts(first: 1) { totalCount } optedOut: contacts(first: 1, filter: {optedOut: true}) { totalCount } personas(first: 1) { totalCount } }`));
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
    <h2>Contacts</h2>
    <dl class="facts">
      <dt>Contacts</dt><dd><a href="#/contacts">${data.contacts.totalCount}</a></dd>
      <dt>Opted out</dt><dd><a href="#/contacts?optedOut=true">${data.optedOut.totalCount}</a></dd>
      <dt>Personas</dt><dd><a href="#/personas">${data.personas.totalCount}</a></dd>
    </dl>
  </main>`;
}
