package graphiql

import (
	"bytes"
	"html/template"
	"net/url"
)

// page is GraphiQL's HTML page. It follows gqlgen's playground page (the same
// four subresources in the same order), with two differences that keep the
// API token out of the browser's lasting storage:
//
//   - GraphiQL's `storage` (tabs, headers with the token, history) is
//     sessionStorage, which the browser drops with the tab, instead of
//     localStorage, which it keeps on disk for every later visit;
//   - the Headers pane opens with a template (`defaultHeaders`), used only
//     while the session has no saved tabs, so a reload keeps the pasted token.
var page = template.Must(template.New("graphiql").Parse(`<!DOCTYPE html>
<html>
  <head>
    <meta charset="utf-8">
    <title>{{.Title}}</title>
    <style>
      body { margin: 0; }
      #graphiql { height: 100vh; }
      .loading { height: 100%; display: flex; align-items: center; justify-content: center; font-size: 4rem; }
    </style>
    <script src="{{.React.URL}}" integrity="{{.React.SRI}}" crossorigin="anonymous"></script>
    <script src="{{.ReactDOM.URL}}" integrity="{{.ReactDOM.SRI}}" crossorigin="anonymous"></script>
    <link rel="stylesheet" href="{{.CSS.URL}}" integrity="{{.CSS.SRI}}" crossorigin="anonymous" />
  </head>
  <body>
    <div id="graphiql"><div class="loading">Loading…</div></div>
    <script src="{{.JS.URL}}" integrity="{{.JS.SRI}}" crossorigin="anonymous"></script>
    <script>
      // GraphiQL's storage, namespaced by a prefix, in sessionStorage only.
      class SessionStorage {
        constructor(prefix) { this.prefix = prefix; }
        keys() {
          const out = [];
          for (let i = 0; i < sessionStorage.length; i++) {
            const key = sessionStorage.key(i);
            if (key.startsWith(this.prefix)) out.push(key);
          }
          return out;
        }
        getItem(key) { return sessionStorage.getItem(this.prefix + key); }
        setItem(key, value) { sessionStorage.setItem(this.prefix + key, value); }
        removeItem(key) { sessionStorage.removeItem(this.prefix + key); }
        clear() { this.keys().forEach(key => sessionStorage.removeItem(key)); }
        get length() { return this.keys().length; }
        key(index) {
          const keys = this.keys();
          return index >= 0 && index < keys.length ? keys[index].substring(this.prefix.length) : null;
        }
      }
{{- if .EndpointIsAbsolute}}
      const url = {{.Endpoint}};
      const subscriptionUrl = {{.SubscriptionEndpoint}};
{{- else}}
      const url = location.protocol + '//' + location.host + {{.Endpoint}};
      const subscriptionUrl = (location.protocol == 'https:' ? 'wss:' : 'ws:') + '//' + location.host + {{.Endpoint}};
{{- end}}
      const defaultHeaders = {{.DefaultHeaders}};
      ReactDOM.render(
        React.createElement(GraphiQL, {
          fetcher: GraphiQL.createFetcher({ url, subscriptionUrl }),
          isHeadersEditorEnabled: true,
          shouldPersistHeaders: true,
          defaultHeaders: defaultHeaders ? JSON.stringify(defaultHeaders, null, 2) : undefined,
          defaultEditorToolsVisibility: defaultHeaders ? 'headers' : undefined,
          storage: new SessionStorage({{.StoragePrefix}}),
          inputValueDeprecation: true,
        }),
        document.getElementById('graphiql'),
      );
    </script>
  </body>
</html>
`))

// assetRef is a subresource's URL and its Subresource Integrity value.
type assetRef struct{ URL, SRI string }

type pageData struct {
	Title                          string
	Endpoint, SubscriptionEndpoint string
	EndpointIsAbsolute             bool
	// DefaultHeaders is the Headers pane's template; nil for none.
	DefaultHeaders           map[string]string
	StoragePrefix            string
	JS, CSS, React, ReactDOM assetRef
}

// renderPage executes the page once; it never changes while the server runs.
func renderPage(d pageData) []byte {
	if u, err := url.Parse(d.Endpoint); err == nil && u.Scheme != "" {
		d.EndpointIsAbsolute = true
		u.Scheme = map[string]string{"https": "wss"}[u.Scheme]
		if u.Scheme == "" {
			u.Scheme = "ws"
		}
		d.SubscriptionEndpoint = u.String()
	}
	if len(d.DefaultHeaders) == 0 {
		d.DefaultHeaders = nil
	}
	var b bytes.Buffer
	if err := page.Execute(&b, d); err != nil {
		panic("graphiql: page template: " + err.Error()) // fixed template and data: a build defect
	}
	return b.Bytes()
}
