// Package graphiql serves the GraphiQL IDE with its JavaScript and CSS
// embedded in the binary, so the page works where browsers cannot reach a CDN.
// The page follows gqlgen's playground page, with the asset URLs (and their
// integrity hashes) pointing at this handler instead of cdn.jsdelivr.net, and
// GraphiQL's storage (which holds the API token) in sessionStorage, never in
// localStorage (see page.go).
package graphiql

import (
	"bytes"
	"net/http"
	"strings"
	"time"
)

// Options configures the page; the zero value gives wagraph's defaults.
type Options struct {
	// Path is the URL path the page is mounted at. The page answers at Path
	// and Path+"/", the assets under Path+"/assets/". Default "/graphiql".
	Path string
	// Title is the browser tab's title. Default "wagraph".
	Title string
	// Headers is the template the Headers pane opens with, whose contents
	// GraphiQL sends with every request and as the websocket
	// connection_init payload. It applies while the browser tab's session
	// has no saved tabs, so a reload keeps the headers the user typed. Nil
	// means {"Authorization": "Bearer "}; an empty map, no template.
	Headers map[string]string
	// StoragePrefix namespaces GraphiQL's sessionStorage keys (tabs, headers,
	// history) so other GraphiQL pages on the same origin keep theirs apart.
	// Default "wagraph".
	StoragePrefix string
}

func (o Options) withDefaults() Options {
	if o.Path == "" {
		o.Path = "/graphiql"
	}
	o.Path = strings.TrimRight(o.Path, "/")
	if o.Title == "" {
		o.Title = "wagraph"
	}
	if o.Headers == nil {
		o.Headers = map[string]string{"Authorization": "Bearer "}
	}
	if o.StoragePrefix == "" {
		o.StoragePrefix = "wagraph"
	}
	return o
}

// Handler serves GraphiQL talking to the GraphQL endpoint (a path such as
// "/graphql" on the same host, or an absolute URL). It answers GET and HEAD
// for opts.Path, opts.Path+"/" and the embedded assets under
// opts.Path+"/assets/"; anything else under opts.Path is 404. The page and
// the asset hashes are computed once, here. Mount it on both page patterns:
//
//	ide := graphiql.Handler("/graphql", graphiql.Options{})
//	mux.Handle("GET /graphiql", ide)
//	mux.Handle("GET /graphiql/", ide)
func Handler(endpoint string, opts Options) http.Handler {
	opts = opts.withDefaults()
	assetBase := opts.Path + "/assets/"
	assets := loadAssets()
	ref := func(name string) assetRef {
		a, ok := assets[name]
		if !ok {
			panic("graphiql: asset " + name + " is not embedded")
		}
		return assetRef{URL: assetBase + name, SRI: a.sri}
	}
	// no-cache makes browsers revalidate (a cheap 304 via the ETag), so a new
	// binary's asset URLs are picked up at once.
	page := newContent(renderPage(pageData{
		Title:          opts.Title,
		Endpoint:       endpoint,
		DefaultHeaders: opts.Headers,
		StoragePrefix:  opts.StoragePrefix,
		JS:             ref(graphiqlJS),
		CSS:            ref(graphiqlCSS),
		React:          ref(reactJS),
		ReactDOM:       ref(reactDOMJS),
	}), "text/html; charset=utf-8", "no-cache")

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		p := r.URL.Path
		switch {
		case p == opts.Path || p == opts.Path+"/":
			page.serve(w, r)
		case strings.HasPrefix(p, assetBase):
			// An exact map lookup: no file system path is ever built from the URL.
			if a, ok := assets[p[len(assetBase):]]; ok {
				a.serve(w, r)
				return
			}
			http.NotFound(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

func (c content) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", c.contentType)
	h.Set("Cache-Control", c.cacheControl)
	h.Set("ETag", c.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(c.body))
}
