// wagraph console: Preact + htm, graphql-ws; the public GraphQL API only.
// One module per screen; lib.js holds what they share. The token lives in
// sessionStorage only: never in the URL, a log or localStorage.
import { html, render, useState, useEffect, TOKEN_KEY, can, toast, toastError, Toasts, gql, openLive, useHash } from "./lib.js";
import { Accounts, AccountPage } from "./accounts.js";
import { Contacts, ContactPage } from "./contacts.js";
import { Personas } from "./personas.js";
import { Import } from "./import.js";
import { Health } from "./health.js";
import { Sending, BatchPage } from "./sending.js";
import { Groups, GroupPage } from "./groups.js";

function SignIn({ onSignedIn }) {
  const [value, setValue] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (ev) => {
    ev.preventDefault();
    const token = value.trim();
    if (!token) {
      toast("error", "Enter an API token.", "Ask an administrator for a token (createApiToken), or run `wagraph token create`.");
      return;
    }
    setBusy(true);
    try {
      const data = await gql(token, "{ viewer { role } }");
      sessionStorage.setItem(TOKEN_KEY, token);
      setValue("");
      onSignedIn(token, data.viewer.role);
    } catch (e) {
      toastError(e);
    } finally {
      setBusy(false);
    }
  };
  return html`<main><form class="signin" onSubmit=${submit} autocomplete="off">
    <h1>Sign in to wagraph</h1>
    <label for="token">API token</label>
    <input id="token" name="token" type="password" value=${value} onInput=${(e) => setValue(e.target.value)} autocomplete="off" spellcheck="false" />
    <p class="hint">The token is kept in this tab only (sessionStorage) and forgotten when you sign out or close the tab.</p>
    <button type="submit" disabled=${busy}>Sign in</button>
  </form></main>`;
}

function App() {
  const [token, setToken] = useState(() => sessionStorage.getItem(TOKEN_KEY));
  const [role, setRole] = useState(null);
  const [conn, setConn] = useState("connecting");
  const [live, setLive] = useState(null);
  const [epoch, setEpoch] = useState(0); // counts live (re)connections
  const hash = useHash();
  // A new screen starts at its top.
  useEffect(() => { window.scrollTo(0, 0); }, [hash.split("?")[0]]);

  useEffect(() => {
    if (!token || role) return;
    gql(token, "{ viewer { role } }").then((d) => setRole(d.viewer.role), (e) => {
      toastError(e);
      sessionStorage.removeItem(TOKEN_KEY);
      setToken(null);
    });
  }, [token]);
  useEffect(() => {
    if (!token || !role) return undefined;
    const client = openLive(token, (st) => {
      setConn(st);
      if (st === "connected") setEpoch((n) => n + 1);
    });
    setLive(client);
    const offline = () => setConn("offline");
    const online = () => setConn("reconnecting");
    addEventListener("offline", offline);
    addEventListener("online", online);
    return () => {
      removeEventListener("offline", offline);
      removeEventListener("online", online);
      setLive(null);
      client.dispose();
    };
  }, [token, role]);

  const signOut = () => {
    sessionStorage.removeItem(TOKEN_KEY);
    setToken(null);
    setRole(null);
  };

  if (!token || !role) {
    return html`<${Toasts} />${token ? html`<main><p>Signing in…</p></main>` : html`<${SignIn} onSignedIn=${(t, r) => { setRole(r); setToken(t); }} />`}`;
  }
  // Routes: #/accounts, #/accounts/<id>, #/contacts?<filter>, #/contacts/<id>,
  // #/personas, #/import, #/health, #/sending?account=<id>, #/batches/<id>,
  // #/groups?account=<id>, #/group?account=<id>&jid=<jid>.
  const [path, query] = hash.split("?");
  const parts = path.replace(/^#\/?/, "").split("/");
  const section = ["contacts", "personas", "import", "health", "sending", "batches", "groups", "group"].includes(parts[0]) ? parts[0] : "accounts";
  const id = parts[1] ? decodeURIComponent(parts[1]) : null;
  const props = { token, role, live, epoch };
  const screen = {
    accounts: () => (id ? html`<${AccountPage} key=${id} id=${id} ...${props} />` : html`<${Accounts} ...${props} />`),
    contacts: () => (id ? html`<${ContactPage} key=${id} id=${id} ...${props} />` : html`<${Contacts} ...${props} query=${query} />`),
    personas: () => html`<${Personas} ...${props} />`,
    import: () => html`<${Import} ...${props} />`,
    health: () => html`<${Health} ...${props} />`,
    sending: () => html`<${Sending} ...${props} query=${query} />`,
    batches: () => html`<${BatchPage} key=${id} id=${id} ...${props} />`,
    groups: () => html`<${Groups} ...${props} query=${query} />`,
    group: () => html`<${GroupPage} key=${query} ...${props} query=${query} />`,
  }[section];
  const nav = [["accounts", "Accounts"], ["contacts", "Contacts"], ["personas", "Personas"], ["groups", "Groups"], can(role, "OPERATOR") && ["import", "Import"], ["sending", "Sending"], ["health", "Health"]].filter(Boolean);
  const label = { connected: "Live: connected", reconnecting: "Live: reconnecting…", offline: "Live: offline", connecting: "Live: connecting…" }[conn];
  return html`
    <header class="top">
      <span class="brand">wagraph console</span>
      <nav aria-label="Main">
        ${nav.map(([s, text]) => html`<a href=${"#/" + s} aria-current=${section === s || (s === "sending" && section === "batches") || (s === "groups" && section === "group") ? "page" : null}>${text}</a>`)}
        <a href="/graphiql">GraphiQL</a>
      </nav>
      <span class=${"conn " + conn} role="status" id="connection">${label}</span>
      <span class="role"><span class="visually-hidden">Signed in as </span>${role}</span>
      <button type="button" class="secondary" onClick=${signOut}>Sign out</button>
    </header>
    ${screen()}
    <${Toasts} />`;
}

const root = document.getElementById("app");
root.textContent = "";
render(html`<${App} />`, root);
