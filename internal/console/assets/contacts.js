// The contacts table with its filters, paging, selection (add to or remove
// from a persona, delete) and CSV export; and one contact's page.
// The filter lives in the address (#/contacts?search=…&personaId=…), so the
// back button and links from the personas screen work.
import { html, useState, useEffect, can, toast, toastError, gql, downloadCSV, fmtTime, ConfirmDialog } from "./lib.js";

// PAGE is how many contacts one page shows.
const PAGE = 20;
const SOURCES = ["GROUP", "IMPORT", "MANUAL", "WHATSAPP"];
const BOOLS = ["hasPhone", "optedOut"];
export const FILTER_KEYS = ["search", "personaId", "accountId", "groupJid", "source", "hasPhone", "optedOut"];

// parseFilter reads a ContactFilter from the address's query string.
export function parseFilter(query) {
  const q = new URLSearchParams(query || "");
  const f = {};
  for (const k of FILTER_KEYS) {
    const v = q.get(k);
    if (v == null || v === "") continue;
    if (BOOLS.includes(k)) { if (v === "true" || v === "false") f[k] = v === "true"; } else f[k] = v;
  }
  return f;
}

// filterQuery writes a ContactFilter as a query string (the export's too).
export function filterQuery(f) {
  const q = new URLSearchParams();
  for (const k of FILTER_KEYS) if (f[k] != null && f[k] !== "") q.set(k, String(f[k]));
  return q.toString();
}

// downloadContactsCsv downloads GET /export/contacts.csv for the filter. The
// token goes in the Authorization header, never in the address, so the file
// is fetched and handed to the browser as a blob.
export async function downloadContactsCsv(token, filter) {
  return downloadCSV(token, "/export/contacts.csv?" + filterQuery(filter), "contacts.csv");
}

// contactName is the best name known for a contact.
export const contactName = (c) => c.fullName || c.pushName || c.businessName || "(no name)";

// useOptions loads the personas and accounts the filters and actions offer.
export function useOptions(token) {
  const [opts, setOpts] = useState({ personas: [], accounts: [] });
  const load = async () => {
    try {
      const d = await gql(token, "{ personas(first: 100) { edges { node { id name contactCount } } } accounts(first: 100) { edges { node { id name } } } }");
      setOpts({ personas: d.personas.edges.map((e) => e.node), accounts: d.accounts.edges.map((e) => e.node) });
    } catch (e) { toastError(e); }
  };
  useEffect(() => { load(); }, [token]);
  return [opts, load];
}

const ROW = "id phoneNumber lid pushName fullName businessName optedOut firstSeenAt";

function Filters({ filter, opts }) {
  const [d, setD] = useState(filter);
  useEffect(() => setD(filter), [JSON.stringify(filter)]);
  const set = (k) => (e) => setD({ ...d, [k]: e.target.value });
  const apply = (ev) => {
    ev.preventDefault();
    const f = { ...d };
    for (const k of BOOLS) if (f[k] === "true" || f[k] === "false") f[k] = f[k] === "true";
    location.hash = "#/contacts" + (filterQuery(f) ? "?" + filterQuery(f) : "");
  };
  const b = (v) => (v === true || v === "true" ? "true" : v === false || v === "false" ? "false" : "");
  return html`<form class="filters" onSubmit=${apply} aria-label="Filter contacts">
    <div class="wide"><label for="f-search">Name or number</label>
      <input id="f-search" type="search" value=${d.search || ""} onInput=${set("search")} placeholder="Anna, +49151…" /></div>
    <div><label for="f-persona">Persona</label>
      <select id="f-persona" value=${d.personaId || ""} onChange=${set("personaId")}>
        <option value="">Any</option>
        ${opts.personas.map((p) => html`<option value=${p.id}>${p.name}</option>`)}
      </select></div>
    <div><label for="f-account">Seen by account</label>
      <select id="f-account" value=${d.accountId || ""} onChange=${set("accountId")}>
        <option value="">Any</option>
        ${opts.accounts.map((a) => html`<option value=${a.id}>${a.name}</option>`)}
      </select></div>
    <div><label for="f-source">Source</label>
      <select id="f-source" value=${d.source || ""} onChange=${set("source")}>
        <option value="">Any</option>
        ${SOURCES.map((s) => html`<option value=${s}>${s.toLowerCase()}</option>`)}
      </select></div>
    <div><label for="f-phone">Phone number</label>
      <select id="f-phone" value=${b(d.hasPhone)} onChange=${set("hasPhone")}>
        <option value="">Any</option><option value="true">Has a number</option><option value="false">LID only</option>
      </select></div>
    <div><label for="f-optout">Opted out</label>
      <select id="f-optout" value=${b(d.optedOut)} onChange=${set("optedOut")}>
        <option value="">Any</option><option value="true">Opted out</option><option value="false">Not opted out</option>
      </select></div>
    <div class="buttons">
      <button type="submit">Apply filters</button>
      <a class="button secondary" href="#/contacts">Clear</a>
    </div>
  </form>`;
}

export function Contacts({ token, role, query }) {
  const filter = parseFilter(query);
  const key = filterQuery(filter);
  const [opts] = useOptions(token);
  const [data, setData] = useState(null); // the contacts connection shown
  // The `after` of each page so far, for the filter key.
  const [paging, setPaging] = useState({ key, cursors: [null] });
  const cursors = paging.key === key ? paging.cursors : [null];
  const setCursors = (f) => setPaging({ key, cursors: f(cursors) });
  const [selected, setSelected] = useState(new Set());
  const [allMatching, setAllMatching] = useState(false);
  const [persona, setPersona] = useState("");
  const [deleting, setDeleting] = useState(false);
  const [run, setRun] = useState(0);
  const canWrite = can(role, "OPERATOR");
  const canDelete = can(role, "ADMIN");
  const after = cursors[cursors.length - 1];

  useEffect(() => { setSelected(new Set()); setAllMatching(false); }, [key]);
  useEffect(() => {
    let stale = false;
    gql(token, `query($f: ContactFilter, $n: Int, $after: String) { contacts(filter: $f, first: $n, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { ${ROW} personas { id name } } } } }`, { f: filter, n: PAGE, after })
      .then((d) => { if (!stale) setData(d.contacts); }, (e) => { if (!stale) { toastError(e); setData((x) => x || { totalCount: 0, edges: [], pageInfo: {} }); } });
    return () => { stale = true; };
  }, [token, key, after, run]);

  const rows = data ? data.edges.map((e) => e.node) : [];
  const pageSelected = rows.length > 0 && rows.every((c) => selected.has(c.id));
  const toggle = (id) => { setAllMatching(false); setSelected((s) => { const n = new Set(s); if (n.has(id)) n.delete(id); else n.add(id); return n; }); };
  const togglePage = () => { setAllMatching(false); setSelected(pageSelected ? new Set() : new Set(rows.map((c) => c.id))); };
  const clear = () => { setSelected(new Set()); setAllMatching(false); };
  const count = allMatching ? data.totalCount : selected.size;
  // target is who a bulk action applies to: the ids, or every contact matching the filter.
  const target = () => (allMatching ? { filter } : { contactIds: [...selected] });

  const personaAction = async (mutation, verb) => {
    if (!persona) { toast("error", "Choose a persona first.", "Pick one in “Persona for the selection”, or create one on the Personas screen."); return; }
    try {
      const d = await gql(token, `mutation($in: PersonaContactsInput!) { ${mutation}(input: $in) { changedCount persona { name contactCount } } }`, { in: { personaId: persona, ...target() } });
      const r = d[mutation];
      toast("info", `${r.changedCount} ${r.changedCount === 1 ? "contact" : "contacts"} ${verb} “${r.persona.name}”; it holds ${r.persona.contactCount} now.`);
      clear();
      setRun((n) => n + 1);
    } catch (e) { toastError(e); }
  };
  const remove = async () => {
    setDeleting(false);
    try {
      const d = await gql(token, `mutation($ids: [ID!]!) { deleteContacts(input: {contactIds: $ids}) { deletedCount } }`, { ids: [...selected] });
      toast("info", `${d.deleteContacts.deletedCount} contacts deleted.`);
      clear();
      setRun((n) => n + 1);
    } catch (e) { toastError(e); }
  };
  const exportCsv = async () => {
    try { await downloadContactsCsv(token, filter); toast("info", "The CSV file is downloaded."); } catch (e) { toastError(e); }
  };

  return html`<main>
    <h1>Contacts</h1>
    <${Filters} filter=${filter} opts=${opts} />
    <div class="toolbar">
      <p class="count" aria-live="polite">${data ? `${data.totalCount} ${data.totalCount === 1 ? "contact matches" : "contacts match"}${key ? " the filter" : ""}.` : "Loading contacts…"}</p>
      <div class="buttons">
        <button type="button" class="secondary" onClick=${exportCsv}>Export CSV</button>
        ${canWrite && html`<a class="button secondary" href="#/import">Import CSV</a>`}
        ${canWrite && key && html`<a class="button secondary" href=${"#/sending?" + key}>Send to these contacts</a>`}
      </div>
    </div>
    ${canWrite && count > 0 && html`<section class="selection panel" aria-label="Selected contacts">
      <p><strong>${allMatching ? `All ${count} contacts matching the filter` : `${count} selected`}</strong>
        ${!allMatching && pageSelected && data.totalCount > rows.length && html` <button type="button" class="link" onClick=${() => setAllMatching(true)}>Select all ${data.totalCount} matching the filter</button>`}
        ${" "}<button type="button" class="link" onClick=${clear}>Clear the selection</button></p>
      <div class="inline">
        <div><label for="sel-persona">Persona for the selection</label>
          <select id="sel-persona" value=${persona} onChange=${(e) => setPersona(e.target.value)}>
            <option value="">Choose…</option>
            ${opts.personas.map((p) => html`<option value=${p.id}>${p.name}</option>`)}
          </select></div>
        <div class="buttons">
          <button type="button" onClick=${() => personaAction("addContactsToPersona", "added to")}>Add to persona</button>
          <button type="button" class="secondary" onClick=${() => personaAction("removeContactsFromPersona", "removed from")}>Remove from persona</button>
          ${canDelete && !allMatching && html`<button type="button" class="danger" onClick=${() => setDeleting(true)}>Delete…</button>`}
        </div>
      </div>
    </section>`}
    ${data && rows.length === 0 ? html`<p>No contacts${key ? " match the filter" : " yet"}.${canWrite ? html` <a href="#/import">Import a CSV file.</a>` : ""}</p>` : data && html`
    <table class="contacts">
      <thead><tr>
        ${canWrite && html`<th scope="col" class="check"><input type="checkbox" aria-label="Select the contacts on this page" checked=${pageSelected} onChange=${togglePage} /></th>`}
        <th scope="col">Name</th><th scope="col">Phone number</th><th scope="col" class="optional">Personas</th>
        <th scope="col" class="optional">First seen</th><th scope="col" class="optional">Opted out</th>
      </tr></thead>
      <tbody>${rows.map((c) => html`<tr key=${c.id} data-contact=${c.id}>
        ${canWrite && html`<td class="check"><input type="checkbox" aria-label=${"Select " + contactName(c)} checked=${allMatching || selected.has(c.id)} onChange=${() => toggle(c.id)} /></td>`}
        <td><a href=${"#/contacts/" + encodeURIComponent(c.id)}>${contactName(c)}</a>${c.optedOut ? html` <span class="badge OPTED_OUT">opted out</span>` : ""}</td>
        <td class="nowrap">${c.phoneNumber || html`<span class="hint">${c.lid}</span>`}</td>
        <td class="optional">${c.personas.map((p) => p.name).join(", ")}</td>
        <td class="optional">${fmtTime(c.firstSeenAt)}</td>
        <td class="optional">${c.optedOut ? "yes" : "no"}</td>
      </tr>`)}</tbody>
    </table>
    <nav class="pager" aria-label="Pages of contacts">
      <button type="button" class="secondary" disabled=${cursors.length === 1} onClick=${() => setCursors((cs) => cs.slice(0, -1))}>Previous page</button>
      <span>Page ${cursors.length} of ${Math.max(1, Math.ceil(data.totalCount / PAGE))}</span>
      <button type="button" class="secondary" disabled=${!data.pageInfo.hasNextPage} onClick=${() => setCursors((cs) => [...cs, data.pageInfo.endCursor])}>Next page</button>
    </nav>`}
    ${deleting && html`<${ConfirmDialog} title=${`Delete ${selected.size} contacts?`} confirmLabel="Delete contacts" onConfirm=${remove} onClose=${() => setDeleting(false)}>
      <p>The selected contacts are deleted with their sources and persona links. This cannot be undone.</p>
    </${ConfirmDialog}>`}
  </main>`;
}

const DETAIL = `${ROW} optedOutAt lastSeenAt createdAt updatedAt attributes { key value } personas { id name }
  sources { kind accountId groupJid importId firstSeenAt lastSeenAt }`;

export function ContactPage({ id, token, role }) {
  const [c, setC] = useState(null);
  const [deleting, setDeleting] = useState(false);
  const canWrite = can(role, "OPERATOR");
  useEffect(() => {
    gql(token, `query($id: ID!) { contact(id: $id) { ${DETAIL} } }`, { id }).then((d) => setC(d.contact), toastError);
  }, [id, token]);
  const setOptOut = async (v) => {
    try {
      const d = await gql(token, `mutation($id: ID!, $v: Boolean) { updateContact(input: {contactId: $id, optedOut: $v}) { contact { ${DETAIL} } } }`, { id, v });
      setC(d.updateContact.contact);
      toast("info", v ? "Opted out: sending skips this contact." : "Opted back in.");
    } catch (e) { toastError(e); }
  };
  const remove = async () => {
    setDeleting(false);
    try {
      await gql(token, `mutation($id: ID!) { deleteContacts(input: {contactIds: [$id]}) { deletedCount } }`, { id });
      toast("info", `“${contactName(c)}” deleted.`);
      location.hash = "#/contacts";
    } catch (e) { toastError(e); }
  };
  if (!c) return html`<main><p><a href="#/contacts">← Contacts</a></p><p>Loading the contact…</p></main>`;
  return html`<main>
    <p><a href="#/contacts">← Contacts</a></p>
    <h1>${contactName(c)}${c.optedOut ? html` <span class="badge OPTED_OUT">opted out</span>` : ""}</h1>
    <dl class="facts">
      <dt>Phone number</dt><dd>${c.phoneNumber || "—"}</dd>
      <dt>LID</dt><dd class="break">${c.lid || "—"}</dd>
      <dt>Full name</dt><dd>${c.fullName || "—"}</dd>
      <dt>Name in WhatsApp</dt><dd>${c.pushName || "—"}</dd>
      <dt>Business name</dt><dd>${c.businessName || "—"}</dd>
      <dt>First seen</dt><dd>${fmtTime(c.firstSeenAt)}</dd>
      <dt>Last seen</dt><dd>${fmtTime(c.lastSeenAt)}</dd>
      <dt>Opted out</dt><dd class="optout">${c.optedOut ? "yes, since " + fmtTime(c.optedOutAt) : "no"}</dd>
      <dt>Personas</dt><dd>${c.personas.length ? c.personas.map((p, i) => html`${i ? ", " : ""}<a href=${"#/contacts?personaId=" + encodeURIComponent(p.id)}>${p.name}</a>`) : "—"}</dd>
    </dl>
    ${(canWrite) && html`<div class="buttons">
      <button type="button" class="secondary" onClick=${() => setOptOut(!c.optedOut)}>${c.optedOut ? "Opt back in" : "Opt out"}</button>
      ${!c.optedOut && c.phoneNumber && html`<a class="button secondary" href=${"#/sending?to=" + encodeURIComponent(c.id)}>Send a message</a>`}
      ${can(role, "ADMIN") && html`<button type="button" class="danger" onClick=${() => setDeleting(true)}>Delete…</button>`}
    </div>`}
    <h2>Attributes</h2>
    ${c.attributes.length ? html`<table><thead><tr><th scope="col">Name</th><th scope="col">Value</th></tr></thead>
      <tbody>${c.attributes.map((a) => html`<tr key=${a.key}><td>${a.key}</td><td class="break">${a.value}</td></tr>`)}</tbody></table>` : html`<p>None.</p>`}
    <h2>Sources</h2>
    <table><thead><tr><th scope="col">Source</th><th scope="col">Where</th><th scope="col" class="optional">First seen</th><th scope="col" class="optional">Last seen</th></tr></thead>
      <tbody>${c.sources.map((s, i) => html`<tr key=${i}><td>${s.kind.toLowerCase()}</td>
        <td class="break">${s.groupJid ? s.groupJid : s.importId ? s.importId : s.accountId ? html`<a href=${"#/accounts/" + encodeURIComponent(s.accountId)}>account</a>` : "—"}</td>
        <td class="optional">${fmtTime(s.firstSeenAt)}</td><td class="optional">${fmtTime(s.lastSeenAt)}</td></tr>`)}</tbody></table>
    ${deleting && html`<${ConfirmDialog} title="Delete this contact?" confirmLabel="Delete contact" onConfirm=${remove} onClose=${() => setDeleting(false)}>
      <p>“${contactName(c)}” is deleted with its sources and persona links. This cannot be undone.</p>
    </${ConfirmDialog}>`}
  </main>`;
}
