// CSV import: the browser reads the chosen file and an importer sends it;
// the report shows what the import did (or would do, on a dry run).
import { html, useState, useEffect, useRef, can, toast, toastError, gql } from "./lib.js";
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

// importers are tried in order: the first that accepts the file imports
// it, and run returns its ContactImportReport. An importer for bigger files
// (an upload run as a background job) goes in front of textImporter.
export const importers = [textImporter];

export const fmtBytes = (n) => (n >= MIB ? (n / MIB).toFixed(1) + " MiB" : Math.ceil(n / 1024) + " KiB");

function Report({ r }) {
  // The report takes the focus when it arrives: it scrolls into view and a
  // screen reader reads its title.
  const title = useRef(null);
  useEffect(() => { title.current.focus(); }, [r]);
  return html`<section class="report panel" aria-labelledby="report-title">
    <h2 id="report-title" tabindex="-1" ref=${title}>${r.dryRun ? "Dry run: nothing was changed" : "Import done"}</h2>
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

export function Import({ token, role }) {
  const [opts] = useOptions(token);
  const [file, setFile] = useState(null);
  const [dryRun, setDryRun] = useState(true);
  const [region, setRegion] = useState("");
  const [personas, setPersonas] = useState([]);
  const [busy, setBusy] = useState(false);
  const [report, setReport] = useState(null);
  if (!can(role, "OPERATOR")) {
    return html`<main><h1>Import contacts</h1><p>Importing needs the OPERATOR role; you are signed in as ${role}.</p></main>`;
  }
  const togglePersona = (id) => setPersonas((xs) => (xs.includes(id) ? xs.filter((x) => x !== id) : [...xs, id]));
  const submit = async (ev) => {
    ev.preventDefault();
    if (!file) { toast("error", "Choose a CSV file first.", "Use “CSV file” to pick one; the first row names the columns."); return; }
    const imp = importers.find((i) => i.accepts(file));
    if (!imp) {
      const max = Math.max(...importers.map((i) => i.maxBytes));
      toast("error", `“${file.name}” is ${fmtBytes(file.size)}; the console imports files of up to ${fmtBytes(max)} (about 10,000 rows).`,
        "Split the file into parts of at most 1 MiB and 10,000 rows each, keeping the header row in every part, and import them one after the other.");
      return;
    }
    const o = { dryRun };
    if (region.trim()) o.defaultRegion = region.trim().toUpperCase();
    if (personas.length) o.personaIds = personas;
    setBusy(true);
    setReport(null);
    try {
      const r = await imp.run(token, file, o);
      setReport(r);
      toast("info", r.dryRun ? "Dry run done: nothing was changed." : `Imported: ${r.created} created, ${r.updated} updated.`);
    } catch (e) { toastError(e); } finally { setBusy(false); }
  };
  return html`<main>
    <h1>Import contacts</h1>
    <p class="hint">A CSV file (UTF-8; comma, semicolon or tab separated) with a header row naming the columns, such as
      <code>phone,full_name,city</code>; unknown columns become attributes. Up to ${fmtBytes(textImporter.maxBytes)} and 10,000 rows per file. Invalid rows are reported and never stop the valid ones.</p>
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
    ${report && html`<${Report} r=${report} />`}
  </main>`;
}
