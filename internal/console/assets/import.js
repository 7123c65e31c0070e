// CSV import: the browser reads the chosen file and an importer sends it;
// the report shows what the import did (or would do, on a dry run). Files
// up to 1 MiB go as text in one request (importContactsCsvText); bigger
// ones are uploaded (importContactsCsv, a multipart request) and imported
// by a background job the screen follows live (importProgress).
import { html, useState, useEffect, useRef, can, toast, toastError, gql, GQLError, ConfirmDialog } from "./lib.js";
import { useOptions } from "./contacts.js";

const REPORT = "importId dryRun rowsRead created updated unchanged merged duplicates invalid errors { line reason } errorsOmitted";

// MIB is the limit of importContactsCsvText's text (see its csv field).
const MIB = 1 << 20;

// textImporter sends the file's text with importContactsCsvText: one
// request, for files up to 1 MiB and 10,000 rows.
export const textImporter = {
  maxBytes: MIB,
  accepts: (file) => file.size <= MIB,
  async run(token, file, opts) {
    const csv = await file.text();
    const d = await gql(token, `mutation($in: ImportContactsCsvTextInput!) { importContactsCsvText(input: $in) { report { ${REPORT} } } }`, { in: { csv, ...opts } });
    return d.importContactsCsvText.report;
  },
};

// JOB is what the progress view shows of an import job; the report's
// skipped rows are read once, when the job is over.
const JOB = "id state fileName fileBytes bytesDone progress dryRun version failure { code message } report { rowsRead created updated unchanged merged duplicates invalid }";
const FINAL = ["DONE", "FAILED", "CANCELED"];

// upload POSTs the file as a GraphQL multipart request (the GraphQL
// multipart request spec: operations, map, then the file). The token goes
// in the Authorization header, never in the address.
async function upload(token, file, opts) {
  const fd = new FormData();
  fd.append("operations", JSON.stringify({
    query: `mutation($in: ImportContactsCsvInput!) { importContactsCsv(input: $in) { job { ${JOB} } } }`,
    variables: { in: { ...opts, file: null } },
  }));
  fd.append("map", JSON.stringify({ 0: ["variables.in.file"] }));
  fd.append("0", file, file.name);
  let res;
  try {
    res = await fetch("/graphql", {
      method: "POST",
      headers: { Accept: "application/graphql-response+json, application/json", Authorization: "Bearer " + token },
      body: fd,
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
  if (res.status === 413) {
    throw new GQLError(`“${file.name}” (${fmtBytes(file.size)}) is larger than this server takes.`, "Split the file, or ask the operators to raise IMPORT_UPLOAD_MAX_BYTES.");
  }
  if (!res.ok || !body || !body.data) {
    throw new GQLError("The server answered " + res.status + ".", "Try again; if it persists, look at the server's log.");
  }
  return body.data.importContactsCsv.job;
}

// follow calls onJob with every newer state of the import job from
// importProgress on the live connection (which resubscribes after a drop;
// the first event is the current state) and resolves with the final job.
function follow(live, job, onJob) {
  return new Promise((resolve, reject) => {
    let last = job;
    const stop = live.subscribe({ query: `subscription($id: ID!) { importProgress(jobId: $id) { version final job { ${JOB} } } }`, variables: { id: job.id } }, {
      next: (msg) => {
        if (msg.errors && msg.errors.length) {
          const ext = msg.errors[0].extensions || {};
          stop();
          reject(new GQLError(msg.errors[0].message, ext.suggestion || null, ext.code || null));
          return;
        }
        const ev = msg.data.importProgress;
        if (ev.version <= last.version && !ev.final) return;
        last = ev.job;
        onJob(last);
        if (ev.final || FINAL.includes(last.state)) { stop(); resolve(last); }
      },
      error: (e) => {
        const x = Array.isArray(e) && e.length ? e[0] : null;
        reject(x ? new GQLError(x.message, (x.extensions || {}).suggestion || null) : new GQLError("The live connection failed.", "Reload the page; the import goes on in the background."));
      },
      complete: () => { if (!FINAL.includes(last.state)) reject(new GQLError("The progress stopped before the import ended.", "Reload the page; the import goes on in the background.")); },
    });
  });
}

// uploadImporter uploads files over 1 MiB with importContactsCsv (up to the
// server's IMPORT_UPLOAD_MAX_BYTES; a bigger file is refused with 413 and
// what to do) and follows the background job to its end. ui.onJob is
// called with the job as it goes; the report is the job's, read once it is
// over with importJob.
export const uploadImporter = {
  maxBytes: Infinity,
  accepts: (file) => file.size > MIB,
  async run(token, file, opts, ui) {
    if (!ui.live) throw new GQLError("The live connection is not open yet.", "Wait for “Live: connected” in the header, then import again.");
    const job = await upload(token, file, opts);
    ui.onJob(job);
    const end = await follow(ui.live, job, ui.onJob);
    if (end.state === "FAILED") {
      throw new GQLError(`The import of “${end.fileName}” failed: ${end.failure ? end.failure.message : "see the server's log"}.`, "What it wrote before stays; fix the file and import it again.");
    }
    const d = await gql(token, `query($id: ID!) { importJob(id: $id) { state report { ${REPORT} } } }`, { id: end.id });
    return { ...d.importJob.report, state: d.importJob.state };
  },
};

// importers are tried in order: the first that accepts the file imports
// it; run(token, file, opts, ui) returns its ContactImportReport (with the
// job's state when it ran as a job). ui holds the live connection and
// onJob, called with a background job's progress.
export const importers = [uploadImporter, textImporter];

// Progress shows a running import job: a bar, rows and bytes done, and
// Cancel (cancelImport, behind a confirmation dialog).
function Progress({ token, job }) {
  const [asking, setAsking] = useState(false);
  const cancel = async () => {
    setAsking(false);
    try {
      await gql(token, `mutation($id: ID!) { cancelImport(input: {id: $id}) { job { id state } } }`, { id: job.id });
    } catch (e) { toastError(e); }
  };
  const r = job.report;
  return html`<section class="import-progress panel" aria-labelledby="progress-title" data-job=${job.id}>
    <h2 id="progress-title">${job.state === "QUEUED" ? "Queued: waiting for a worker" : "Importing in the background"}</h2>
    <div class="progress"><progress max="1" value=${job.progress} aria-label=${`${Math.round(job.progress * 100)} % of the file imported`}></progress></div>
    <p class="progress-counts" aria-live="polite"><span data-progress="rows">${r.rowsRead}</span> rows done, ${fmtBytes(job.bytesDone)} of ${fmtBytes(job.fileBytes)} (${Math.round(job.progress * 100)} %).</p>
    <p class="hint">The import goes on if you leave this page or the server restarts; the contacts screen shows what it wrote.</p>
    <div class="buttons"><button type="button" class="danger" onClick=${() => setAsking(true)}>Cancel import</button></div>
    ${asking && html`<${ConfirmDialog} title="Cancel the import?" confirmLabel="Cancel the import" onConfirm=${cancel} onClose=${() => setAsking(false)}>
      <p>The import of “${job.fileName}” stops after the batch it is writing. The ${r.rowsRead} rows imported so far stay.</p>
    </${ConfirmDialog}>`}
  </section>`;
}

export const fmtBytes = (n) => (n >= MIB ? (n / MIB).toFixed(1) + " MiB" : Math.ceil(n / 1024) + " KiB");

function Report({ r }) {
  // The report takes the focus when it arrives: it scrolls into view and a
  // screen reader reads its title.
  const title = useRef(null);
  useEffect(() => { title.current.focus(); }, [r]);
  return html`<section class="report panel" aria-labelledby="report-title">
    <h2 id="report-title" tabindex="-1" ref=${title}>${r.state === "CANCELED" ? "Import canceled: what it wrote before stays" : r.dryRun ? "Dry run: nothing was changed" : "Import done"}</h2>
    <p>${r.rowsRead} rows read${r.dryRun ? "; an import would make these changes" : ""}.</p>
    <dl class="facts counts">
      <dt>Created</dt><dd data-count="created">${r.created}</dd>
      <dt>Updated</dt><dd data-count="updated">${r.updated}</dd>
      <dt>Unchanged</dt><dd data-count="unchanged">${r.unchanged}</dd>
      <dt>Merged (LID into number)</dt><dd data-count="merged">${r.merged}</dd>
      <dt>Duplicates in the file</dt><dd data-count="duplicates">${r.duplicates}</dd>
      <dt>Invalid rows</dt><dd data-count="invalid">${r.invalid}</dd>
    </dl>
    ${r.errors.length > 0 && html`<h3>Rows skipped</h3>
      <table class="row-errors"><thead><tr><th scope="col">Line</th><th scope="col">Reason</th></tr></thead>
        <tbody>${r.errors.map((e, i) => html`<tr key=${i}><td>${e.line}</td><td>${e.reason}</td></tr>`)}</tbody></table>
      ${r.errorsOmitted > 0 && html`<p class="hint">And ${r.errorsOmitted} more skipped rows not listed.</p>`}`}
    ${!r.dryRun && html`<p><a href="#/contacts?source=IMPORT">See the imported contacts</a></p>`}
  </section>`;
}

export function Import({ token, role, live }) {
  const [opts] = useOptions(token);
  const [file, setFile] = useState(null);
  const [dryRun, setDryRun] = useState(true);
  const [region, setRegion] = useState("");
  const [personas, setPersonas] = useState([]);
  const [busy, setBusy] = useState(false);
  const [report, setReport] = useState(null);
  const [job, setJob] = useState(null); // a background import while it runs
  if (!can(role, "OPERATOR")) {
    return html`<main><h1>Import contacts</h1><p>Importing needs the OPERATOR role; you are signed in as ${role}.</p></main>`;
  }
  const togglePersona = (id) => setPersonas((xs) => (xs.includes(id) ? xs.filter((x) => x !== id) : [...xs, id]));
  const submit = async (ev) => {
    ev.preventDefault();
    if (!file) { toast("error", "Choose a CSV file first.", "Use “CSV file” to pick one; the first row names the columns."); return; }
    const imp = importers.find((i) => i.accepts(file));
    const o = { dryRun };
    if (region.trim()) o.defaultRegion = region.trim().toUpperCase();
    if (personas.length) o.personaIds = personas;
    setBusy(true);
    setReport(null);
    try {
      const r = await imp.run(token, file, o, { live, onJob: setJob });
      setReport(r);
      toast("info", r.state === "CANCELED" ? "Import canceled." : r.dryRun ? "Dry run done: nothing was changed." : `Imported: ${r.created} created, ${r.updated} updated.`);
    } catch (e) { toastError(e); } finally { setBusy(false); setJob(null); }
  };
  return html`<main>
    <h1>Import contacts</h1>
    <p class="hint">A CSV file (UTF-8; comma, semicolon or tab separated) with a header row naming the columns, such as
      <code>phone,full_name,city</code>; unknown columns become attributes. Files over ${fmtBytes(textImporter.maxBytes)} are uploaded and imported in the background, with live progress. Invalid rows are reported and never stop the valid ones.</p>
    <form class="import" onSubmit=${submit} aria-label="Import a CSV file">
      <div><label for="csv-file">CSV file</label>
        <input id="csv-file" type="file" accept=".csv,.tsv,.txt,text/csv" onChange=${(e) => { setFile(e.target.files[0] || null); setReport(null); }} />
        ${file && html`<p class="hint">${file.name}, ${fmtBytes(file.size)}.</p>`}</div>
      <div><label for="csv-region">Country for numbers without a country code (optional)</label>
        <input id="csv-region" value=${region} onInput=${(e) => setRegion(e.target.value)} maxlength="2" placeholder="DE" class="short" />
        <p class="hint">Two letters (ISO 3166), e.g. DE; the server's default when empty.</p></div>
      <fieldset><legend>Add every imported contact to these personas</legend>
        ${opts.personas.length === 0 ? html`<p class="hint">No personas yet; create them on the <a href="#/personas">Personas</a> screen.</p>`
          : opts.personas.map((p) => html`<label class="check" key=${p.id}><input type="checkbox" checked=${personas.includes(p.id)} onChange=${() => togglePersona(p.id)} /> ${p.name}</label>`)}
      </fieldset>
      <label class="check"><input id="csv-dry-run" type="checkbox" checked=${dryRun} onChange=${(e) => setDryRun(e.target.checked)} /> Dry run: only report what the import would do</label>
      <div class="buttons"><button type="submit" disabled=${busy}>${busy ? "Importing…" : dryRun ? "Check the file" : "Import"}</button></div>
    </form>
    ${job && !FINAL.includes(job.state) && html`<${Progress} token=${token} job=${job} />`}
    ${report && html`<${Report} r=${report} />`}
  </main>`;
}
