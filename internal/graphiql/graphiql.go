// Package graphiql serves the GraphiQL IDE with its JavaScript and CSS
// embedded in the binary, so the page works where browsers cannot reach a CDN.
// The page is gqlgen's playground page; only the asset URLs (and their
// integrity hashes) point at this handler instead of cdn.jsdelivr.net.
package graphiql

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/playground"
)

// Options configures the page; the zero value gives wagraph's defaults.
type Options struct {
	// Path is the URL path the page is mounted at. The page answers at Path
	// and Path+"/", the assets under Path+"/assets/". Default "/graphiql".
	Path string
	// Title is the browser tab's title. Default "wagraph".
	Title string
	// Headers prefill GraphiQL's Headers tab, whose contents GraphiQL sends
	// with every request and as the websocket connection_init payload. Nil
	// means {"Authorization": "Bearer <paste the token printed at start>"}.
	// gqlgen's page hands them to GraphiQL as its `headers` prop, which wins
	// over what the user saved: every page load shows these again (the
	// user's headers stay in the previous tab). An empty map leaves the tab
	// empty on first visit and lets GraphiQL restore the user's own headers.
	Headers map[string]string
	// StoragePrefix namespaces GraphiQL's localStorage keys (tabs, headers,
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
		o.Headers = map[string]string{"Authorization": "Bearer <paste the token printed at start>"}
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
	ref := func(name string) (url, sri string) {
		a, ok := assets[name]
		if !ok {
			panic("graphiql: asset " + name + " is not embedded")
		}
		return assetBase + name, a.sri
	}
	jsURL, jsSRI := ref(graphiqlJS)
	cssURL, cssSRI := ref(graphiqlCSS)
	reactURL, reactSRI := ref(reactJS)
	reactDOMURL, reactDOMSRI := ref(reactDOMJS)
	page := renderPage(playground.Handler(opts.Title, endpoint,
		playground.WithGraphiqlVersion(jsURL, cssURL, jsSRI, cssSRI),
		playground.WithGraphiqlReactVersion(reactURL, reactDOMURL, reactSRI, reactDOMSRI),
		// The explorer plugin would come from the CDN; it is not vendored.
		playground.WithGraphiqlEnablePluginExplorer(false),
		playground.WithGraphiqlUiHeaders(opts.Headers),
		playground.WithStoragePrefix(opts.StoragePrefix),
	))

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

// renderPage runs gqlgen's page handler once and keeps the HTML: the page
// never changes, and serving stored bytes gets ETag and HEAD handling from
// http.ServeContent instead of a template panic on a closed connection.
func renderPage(h http.HandlerFunc) content {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "/", nil)
	if err != nil {
		panic("graphiql: " + err.Error())
	}
	var rec pageRecorder
	h(&rec, req)
	// no-cache makes browsers revalidate (a cheap 304 via the ETag), so a new
	// binary's asset URLs are picked up at once.
	return newContent(rec.body.Bytes(), "text/html; charset=utf-8", "no-cache")
}

func (c content) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", c.contentType)
	h.Set("Cache-Control", c.cacheControl)
	h.Set("ETag", c.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(c.body))
}

// pageRecorder is the ResponseWriter renderPage hands gqlgen's handler.
type pageRecorder struct {
	header http.Header
	body   bytes.Buffer
}

func (p *pageRecorder) Header() http.Header {
	if p.header == nil {
		p.header = http.Header{}
	}
	return p.header
}

func (p *pageRecorder) Write(b []byte) (int, error) { return p.body.Write(b) }

func (p *pageRecorder) WriteHeader(int) {}
