// The groups screens: an account's groups as last read from WhatsApp
// (search, paging, refreshGroups), scraping them into the contact base with
// personas (scrapeGroups) and the scrapes' live progress (scrapeProgress);
// one group's page with its members and their CSV export.
// Routes: #/groups?account=<id>&search=<text>, #/group?account=<id>&jid=<jid>.
import { html, useState, useEffect, useRef, can, toast, toastError, gql, downloadCSV, useSubscription, fmtTime, Badge, ConfirmDialog } from "./lib.js";

// PAGE is how many groups, members or scrapes one page shows.
const PAGE = 50;
const GROUP = "jid accountId name topic participantCount announce community addressing refreshedAt";
const SCRAPE = "id accountId allGroups personaIds state groupsTotal groupsDone membersSeen contactsCreated contactsUpdated contactsMerged membersWithoutPhone errors lastError resumeAt version createdAt startedAt finishedAt";
const FINAL = ["DONE", "FAILED", "CANCELED"];
const ADDRESSING = { BY_PHONE: "by number", BY_LID: "by LID", UNKNOWN: "unknown" };

// usePaged loads a connection page by page: fetchPage(after) returns
// [nodes, {total, hasNext, end}]; it loads again when deps change.
function usePaged(fetchPage, deps) {
  const [list, setList] = useState(null);
  const [page, setPage] = useState({ total: 0, hasNext: false, end: null });
  const seq = useRef(0);
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
      setList((xs) => [...xs, ...next]);
      setPage(pg);
    } catch (e) { toastError(e); }
  };
  useEffect(() => { load(); }, deps);
  return { list, page, load, more, setList };
}

const pageOf = (c) => [c.edges.map((e) => e.node), { total: c.totalCount, hasNext: c.pageInfo.hasNextPage, end: c.pageInfo.endCursor }];

// downloadParticipantsCsv downloads a group's members. The token goes in
// the Authorization header, never in the address, so the file is fetched
// and handed to the browser as a blob.
async function downloadParticipantsCsv(token, accountId, jid) {
  return downloadCSV(token, "/export/groups/participants.csv?" + new URLSearchParams({ accountId, jid }), "group-members.csv");
}

// ScrapeRow is one scrape with its progress, live while it is not final;
// an OPERATOR can cancel it (cancelScrape, behind a confirmation dialog).
function ScrapeRow({ token, canWrite, job, live, onEnd }) {
  const [j, setJ] = useState(job);
  const [asking, setAsking] = useState(false);
  useEffect(() => setJ((cur) => (cur.version > job.version ? cur : job)), [job.version]);
  const running = !FINAL.includes(job.state);
  useSubscription(running ? live : null, `subscription($id: ID!) { scrapeProgress(jobId: $id) { ${SCRAPE} } }`, { id: job.id }, (d) => {
    const nj = d.scrapeProgress;
    setJ((cur) => (cur.version > nj.version ? cur : nj));
    if (FINAL.includes(nj.state)) onEnd();
  }, [job.id, running]);
  const cancel = async () => {
    setAsking(false);
    try {
      const d = await gql(token, `mutation($id: ID!) { cancelScrape(input: {id: $id}) { job { ${SCRAPE} } } }`, { id: j.id });
      setJ((cur) => (cur.version > d.cancelScrape.job.version ? cur : d.cancelScrape.job));
      toast("info", "Scrape canceled; the contacts it wrote stay.");
      onEnd();
    } catch (e) { toastError(e); }
  };
  const total = Math.max(j.groupsTotal, 1);
  return html`<tr data-scrape=${j.id}>
    <td class="nowrap">${fmtTime(j.createdAt)}<br /><${Badge} status=${j.state} />
      ${canWrite && !FINAL.includes(j.state) && html`<br /><button type="button" class="danger" onClick=${() => setAsking(true)}>Cancel scrape</button>`}
      ${asking && html`<${ConfirmDialog} title="Cancel the scrape?" confirmLabel="Cancel the scrape" onConfirm=${cancel} onClose=${() => setAsking(false)}>
        <p>The scrape stops after the group it is reading. The contacts it wrote so far stay.</p>
      </${ConfirmDialog}>`}</td>
    <td>
      <div class="progress"><progress max=${total} value=${j.groupsTotal ? j.groupsDone : FINAL.includes(j.state) ? 1 : 0} aria-label=${`${j.groupsDone} of ${j.groupsTotal} groups scraped`}></progress></div>
      <span class="scrape-groups">${j.groupsDone} of ${j.groupsTotal || "?"} groups${j.allGroups ? " (all)" : ""}</span>
      ${j.state === "WAITING" && j.resumeAt && html`<span class="hint"> WhatsApp asked to slow down; resumes by itself at ${fmtTime(j.resumeAt)}.</span>`}
    </td>
    <td class="scrape-counts"><span data-count="created">${j.contactsCreated}</span> new, ${j.contactsUpdated} updated, ${j.contactsMerged} merged; ${j.membersWithoutPhone} without a number</td>
    <td class="optional break">${j.errors ? `${j.errors} ${j.errors === 1 ? "error" : "errors"}: ${j.lastError || ""}` : "—"}</td>
  </tr>`;
}

// Scrapes lists the account's scrape jobs, newest first.
function Scrapes({ token, canWrite, accountId, live, reload }) {
  const { list, page, load, more } = usePaged(async (after) => pageOf((await gql(token,
    `query($id: ID!, $n: Int, $after: String) { scrapeJobs(accountId: $id, first: $n, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { ${SCRAPE} } } } }`,
    { id: accountId, n: 20, after })).scrapeJobs), [token, accountId, reload]);
  return html`<section aria-labelledby="scrapes-title" class="scrapes">
    <h2 id="scrapes-title">Scrapes</h2>
    ${!list ? html`<p>Loading…</p>` : list.length === 0 ? html`<p>No scrape yet.</p>` : html`<table class="scrapes">
      <thead><tr><th scope="col">Started</th><th scope="col">Progress</th><th scope="col">Contacts</th><th scope="col" class="optional">Errors</th></tr></thead>
      <tbody>${list.map((j) => html`<${ScrapeRow} key=${j.id} token=${token} canWrite=${canWrite} job=${j} live=${live} onEnd=${load} />`)}</tbody></table>`}
    ${page.hasNext && html`<div class="buttons"><button type="button" class="secondary" onClick=${more}>Show more</button></div>`}
  </section>`;
}

// ScrapeForm starts a scrape of the selected groups (or all), linking the
// contacts to the chosen personas.
function ScrapeForm({ token, accountId, selected, personas, onStarted }) {
  const [chosen, setChosen] = useState(new Set());
  const [busy, setBusy] = useState(false);
  const toggle = (id) => setChosen((s) => { const n = new Set(s); if (n.has(id)) n.delete(id); else n.add(id); return n; });
  const start = async (all) => {
    setBusy(true);
    try {
      const input = { accountId, personaIds: [...chosen] };
      if (all) input.all = true; else input.groupJids = [...selected];
      await gql(token, `mutation($in: ScrapeGroupsInput!) { scrapeGroups(input: $in) { job { id state } } }`, { in: input });
      toast("info", all ? "Scraping every group of the account; the progress shows below." : `Scraping ${selected.size} ${selected.size === 1 ? "group" : "groups"}; the progress shows below.`);
      setChosen(new Set());
      onStarted();
    } catch (e) { toastError(e); } finally { setBusy(false); }
  };
  return html`<section class="panel scrape-form" aria-labelledby="scrape-title">
    <h2 id="scrape-title">Scrape into contacts</h2>
    <p class="hint">Every member becomes a contact (by number, else by LID), with this account and the group as its source.</p>
    ${personas.length > 0 && html`<fieldset><legend>Add the contacts to these personas (optional)</legend>
      ${personas.map((p) => html`<label class="check" key=${p.id}><input type="checkbox" checked=${chosen.has(p.id)} onChange=${() => toggle(p.id)} /> ${p.name}</label>`)}
    </fieldset>`}
    <div class="buttons">
      <button type="button" disabled=${busy || selected.size === 0} onClick=${() => start(false)}>${`Scrape ${selected.size} selected`}</button>
      <button type="button" class="secondary" disabled=${busy} onClick=${() => start(true)}>Scrape all groups</button>
    </div>
  </section>`;
}

export function Groups({ token, role, live, epoch, query }) {
  const q = new URLSearchParams(query || "");
  const [opts, setOpts] = useState(null);
  const [selected, setSelected] = useState(new Set());
  const [reload, setReload] = useState(0);
  const [search, setSearch] = useState(q.get("search") || "");
  const canWrite = can(role, "OPERATOR");
  useEffect(() => {
    gql(token, "{ accounts(first: 100) { edges { node { id name status } } } personas(first: 100) { edges { node { id name } } } }")
      .then((d) => setOpts({ accounts: d.accounts.edges.map((e) => e.node), personas: d.personas.edges.map((e) => e.node) }), toastError);
  }, [token, epoch]);
  const account = opts && (opts.accounts.find((a) => a.id === q.get("account")) || opts.accounts[0]);
  const accountId = account ? account.id : null;
  const term = q.get("search") || "";
  const groups = usePaged(async (after) => (accountId ? pageOf((await gql(token,
    `query($id: ID!, $s: String, $n: Int, $after: String) { groups(accountId: $id, search: $s, first: $n, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { ${GROUP} } } } }`,
    { id: accountId, s: term || null, n: PAGE, after })).groups) : [[], { total: 0, hasNext: false, end: null }]), [token, accountId, term, reload, epoch]);
  useEffect(() => setSearch(term), [term]);

  const go = (params) => {
    const n = new URLSearchParams(query || "");
    for (const [k, v] of Object.entries(params)) { if (v) n.set(k, v); else n.delete(k); }
    location.hash = "#/groups?" + n.toString();
  };
  const refresh = async () => {
    try {
      const d = await gql(token, `mutation($id: ID!) { refreshGroups(input: {accountId: $id}) { groupCount } }`, { id: accountId });
      toast("info", `The account is in ${d.refreshGroups.groupCount} ${d.refreshGroups.groupCount === 1 ? "group" : "groups"}.`);
      setReload((n) => n + 1);
    } catch (e) { toastError(e); }
  };
  const toggle = (jid) => setSelected((s) => { const n = new Set(s); if (n.has(jid)) n.delete(jid); else n.add(jid); return n; });

  if (!opts) return html`<main><h1>Groups</h1><p>Loading…</p></main>`;
  if (!account) return html`<main><h1>Groups</h1><p>There is no account yet. <a href="#/accounts">Create one</a> and link it first.</p></main>`;
  const { list, page } = groups;
  return html`<main>
    <h1>Groups</h1>
    <form class="filters" aria-label="Filter groups" onSubmit=${(e) => { e.preventDefault(); go({ account: accountId, search: search.trim() }); }}>
      <div class="wide"><label for="g-account">Account</label>
        <select id="g-account" value=${accountId} onChange=${(e) => { setSelected(new Set()); go({ account: e.target.value, search: "" }); }}>
          ${opts.accounts.map((a) => html`<option value=${a.id}>${a.name} (${a.status.replace(/_/g, " ").toLowerCase()})</option>`)}
        </select></div>
      <div class="wide"><label for="g-search">Group name</label>
        <input id="g-search" type="search" value=${search} onInput=${(e) => setSearch(e.target.value)} placeholder="runners" /></div>
      <div class="buttons"><button type="submit">Apply filters</button></div>
    </form>
    <div class="toolbar">
      <p class="count" aria-live="polite">${list ? `${page.total} ${page.total === 1 ? "group" : "groups"}${term ? " match" : ""}.` : "Loading groups…"}</p>
      ${canWrite && html`<div class="buttons"><button type="button" class="secondary" onClick=${refresh}>Refresh groups from WhatsApp</button></div>`}
    </div>
    ${list && list.length === 0 && !term && html`<p>No groups read yet.${canWrite ? " Refresh groups from WhatsApp reads them (the account must be ACTIVE)." : ""}</p>`}
    ${list && list.length > 0 && html`<table class="groups">
      <thead><tr>${canWrite && html`<th scope="col" class="check"><span class="visually-hidden">Select</span></th>`}<th scope="col">Group</th><th scope="col">Members</th><th scope="col" class="optional">Listed</th><th scope="col" class="optional">Read</th></tr></thead>
      <tbody>${list.map((g) => html`<tr key=${g.jid}>
        ${canWrite && html`<td class="check"><input type="checkbox" aria-label=${"Select " + (g.name || g.jid)} checked=${selected.has(g.jid)} onChange=${() => toggle(g.jid)} /></td>`}
        <td class="break"><a href=${"#/group?" + new URLSearchParams({ account: accountId, jid: g.jid })}>${g.name || g.jid}</a>${g.community ? " (community)" : ""}${g.announce ? " · admins only" : ""}</td>
        <td>${g.participantCount}</td>
        <td class="optional">${ADDRESSING[g.addressing] || g.addressing}</td>
        <td class="optional">${fmtTime(g.refreshedAt)}</td>
      </tr>`)}</tbody></table>`}
    ${page.hasNext && html`<div class="buttons"><button type="button" class="secondary" onClick=${groups.more}>Show more</button></div>`}
    ${canWrite && html`<${ScrapeForm} token=${token} accountId=${accountId} selected=${selected} personas=${opts.personas} onStarted=${() => { setSelected(new Set()); setReload((n) => n + 1); }} />`}
    <${Scrapes} token=${token} canWrite=${canWrite} accountId=${accountId} live=${live} reload=${reload + "/" + epoch} />
  </main>`;
}

// GroupPage is one group with its members, paged, and their CSV export.
export function GroupPage({ token, epoch, query }) {
  const q = new URLSearchParams(query || "");
  const accountId = q.get("account") || "";
  const jid = q.get("jid") || "";
  const [g, setG] = useState(null);
  const members = usePaged(async (after) => {
    const d = await gql(token, `query($a: ID!, $j: ID!, $n: Int, $after: String) { group(accountId: $a, jid: $j) { ${GROUP} participants(first: $n, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { jid phoneNumber lid displayName role } } } } }`,
      { a: accountId, j: jid, n: PAGE, after });
    setG(d.group);
    return pageOf(d.group.participants);
  }, [token, accountId, jid, epoch]);
  const exportCsv = async () => {
    try { await downloadParticipantsCsv(token, accountId, jid); toast("info", "The CSV file is downloaded."); } catch (e) { toastError(e); }
  };
  const back = "#/groups?" + new URLSearchParams({ account: accountId });
  if (!g) return html`<main><p><a href=${back}>← Groups</a></p><p>Loading the group…</p></main>`;
  const { list, page } = members;
  return html`<main>
    <p><a href=${back}>← Groups</a></p>
    <h1 class="break">${g.name || g.jid}</h1>
    ${g.topic && html`<p class="break">${g.topic}</p>`}
    <dl class="facts">
      <dt>JID</dt><dd class="break">${g.jid}</dd>
      <dt>Members</dt><dd>${g.participantCount}</dd>
      <dt>Listed</dt><dd>${ADDRESSING[g.addressing] || g.addressing}</dd>
      <dt>Kind</dt><dd>${g.community ? "community" : "group"}${g.announce ? ", only admins send" : ""}</dd>
      <dt>Read from WhatsApp</dt><dd>${fmtTime(g.refreshedAt)}</dd>
    </dl>
    <div class="toolbar">
      <p class="count">${page.total} ${page.total === 1 ? "member" : "members"}.</p>
      <div class="buttons"><button type="button" class="secondary" onClick=${exportCsv}>Export CSV</button></div>
    </div>
    <table class="participants">
      <thead><tr><th scope="col">Name</th><th scope="col">Number</th><th scope="col" class="optional">LID</th><th scope="col">Role</th></tr></thead>
      <tbody>${(list || []).map((p) => html`<tr key=${p.jid}>
        <td class="break">${p.displayName || "—"}</td>
        <td class="nowrap">${p.phoneNumber || html`<span class="hint">hidden</span>`}</td>
        <td class="optional break">${p.lid || "—"}</td>
        <td>${p.role.toLowerCase()}</td>
      </tr>`)}</tbody></table>
    ${page.hasNext && html`<div class="buttons"><button type="button" class="secondary" onClick=${members.more}>Show more</button></div>`}
  </main>`;
}
