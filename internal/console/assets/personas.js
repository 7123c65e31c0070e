// The personas screen: audience segments with their contact counts; create,
// rename and describe (OPERATOR and up), delete (ADMIN).
import { html, useState, useEffect, useRef, can, toast, toastError, gql, ConfirmDialog } from "./lib.js";

const PAGE = 50;
const FIELDS = "id name description contactCount";

export function Personas({ token, role }) {
  const [list, setList] = useState(null);
  const [page, setPage] = useState({ total: 0, hasNext: false, end: null });
  const [draft, setDraft] = useState({ name: "", description: "" });
  const [editing, setEditing] = useState(null); // { id, name, description }
  const [deleting, setDeleting] = useState(null); // persona
  const canWrite = can(role, "OPERATOR");
  const canDelete = can(role, "ADMIN");

  const fetchPage = async (after) => {
    const d = await gql(token, `query($n: Int, $after: String) { personas(first: $n, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { ${FIELDS} } } } }`, { n: PAGE, after });
    return [d.personas.edges.map((e) => e.node), { total: d.personas.totalCount, hasNext: d.personas.pageInfo.hasNextPage, end: d.personas.pageInfo.endCursor }];
  };
  // Only the latest load shows, so a slow first load cannot hide a persona
  // created meanwhile.
  const seq = useRef(0);
  const load = async () => {
    const n = ++seq.current;
    try { const [l, pg] = await fetchPage(null); if (n === seq.current) { setList(l); setPage(pg); } } catch (e) { toastError(e); setList((x) => x || []); }
  };
  const more = async () => {
    try {
      const [next, pg] = await fetchPage(page.end);
      setList((xs) => [...xs.filter((x) => !next.some((n) => n.id === x.id)), ...next]);
      setPage(pg);
    } catch (e) { toastError(e); }
  };
  useEffect(() => { load(); }, [token]);

  const create = async (ev) => {
    ev.preventDefault();
    try {
      const d = await gql(token, `mutation($in: CreatePersonaInput!) { createPersona(input: $in) { persona { ${FIELDS} } } }`, { in: draft });
      await load();
      setDraft({ name: "", description: "" });
      toast("info", `Persona “${d.createPersona.persona.name}” created.`);
    } catch (e) { toastError(e); }
  };
  const save = async (ev) => {
    ev.preventDefault();
    try {
      const d = await gql(token, `mutation($in: UpdatePersonaInput!) { updatePersona(input: $in) { persona { ${FIELDS} } } }`,
        { in: { personaId: editing.id, name: editing.name, description: editing.description } });
      const p = d.updatePersona.persona;
      setList((xs) => xs.map((x) => (x.id === p.id ? p : x)));
      setEditing(null);
    } catch (e) { toastError(e); }
  };
  const remove = async () => {
    const p = deleting;
    setDeleting(null);
    try {
      await gql(token, `mutation($id: ID!) { deletePersona(input: {personaId: $id}) { deletedPersonaId } }`, { id: p.id });
      setList((xs) => xs.filter((x) => x.id !== p.id));
      setPage((pg) => ({ ...pg, total: Math.max(0, pg.total - 1) }));
      toast("info", `Persona “${p.name}” deleted; its contacts stay.`);
    } catch (e) { toastError(e); }
  };

  return html`<main>
    <h1>Personas</h1>
    <p class="hint">A persona is a named set of contacts, such as an audience for a campaign. Add contacts to one on the Contacts screen or when importing.</p>
    ${canWrite && html`<form class="inline" onSubmit=${create} aria-label="Create a persona">
      <div><label for="new-persona">New persona name</label>
        <input id="new-persona" value=${draft.name} onInput=${(e) => setDraft({ ...draft, name: e.target.value })} maxlength="100" /></div>
      <div><label for="new-persona-description">Who it is for (optional)</label>
        <input id="new-persona-description" value=${draft.description} onInput=${(e) => setDraft({ ...draft, description: e.target.value })} maxlength="1000" /></div>
      <button type="submit">Create persona</button>
    </form>`}
    ${list === null ? html`<p>Loading personas…</p>` : list.length === 0 ? html`<p>No personas yet.${canWrite ? " Create one above." : ""}</p>` : html`
    <table class="personas">
      <thead><tr><th scope="col">Persona</th><th scope="col">Contacts</th>${(canWrite || canDelete) && html`<th scope="col"><span class="visually-hidden">Actions</span></th>`}</tr></thead>
      <tbody>${list.map((p) => html`<tr key=${p.id} data-persona=${p.id}>
        ${editing && editing.id === p.id ? html`<td colspan=${canWrite || canDelete ? 3 : 2}><form class="inline" onSubmit=${save} aria-label=${"Edit " + p.name}>
            <div><label for=${"persona-name-" + p.id}>Name</label>
              <input id=${"persona-name-" + p.id} value=${editing.name} onInput=${(e) => setEditing({ ...editing, name: e.target.value })} maxlength="100" /></div>
            <div><label for=${"persona-description-" + p.id}>Who it is for</label>
              <input id=${"persona-description-" + p.id} value=${editing.description} onInput=${(e) => setEditing({ ...editing, description: e.target.value })} maxlength="1000" /></div>
            <button type="submit">Save</button>
            <button type="button" class="secondary" onClick=${() => setEditing(null)}>Cancel</button>
          </form></td>` : html`
        <td><strong>${p.name}</strong>${p.description && html`<br /><span class="hint">${p.description}</span>`}</td>
        <td class="nowrap"><a href=${"#/contacts?personaId=" + encodeURIComponent(p.id)} aria-label=${p.contactCount + " contacts in " + p.name}>${p.contactCount}</a></td>
        ${(canWrite || canDelete) && html`<td><div class="buttons">
          ${canWrite && html`<button type="button" class="secondary" onClick=${() => setEditing({ id: p.id, name: p.name, description: p.description })} aria-label=${"Edit " + p.name}>Edit</button>`}
          ${canDelete && html`<button type="button" class="danger" onClick=${() => setDeleting(p)} aria-label=${"Delete " + p.name}>Delete</button>`}
        </div></td>`}`}
      </tr>`)}</tbody>
    </table>
    <p class="hint paging">Showing ${list.length} of ${Math.max(page.total, list.length)} personas.
      ${page.hasNext && html` <button type="button" class="secondary" onClick=${more}>Show more</button>`}</p>`}
    ${deleting && html`<${ConfirmDialog} title="Delete this persona?" confirmLabel="Delete persona" onConfirm=${remove} onClose=${() => setDeleting(null)}>
      <p>“${deleting.name}” is deleted. Its ${deleting.contactCount} contacts stay in the contact base.</p>
    </${ConfirmDialog}>`}
  </main>`;
}
