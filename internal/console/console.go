// Package console serves wagraph's admin console: a page at / and its
// module scripts and styles under /console/, all embedded in the binary so
// that `go run .` needs no Node toolchain and the page works offline.
//
// The console talks to the public GraphQL API only (POST /graphql with the
// token in the Authorization header, subscriptions over graphql-transport-ws
// with the token in connection_init). It keeps the token in sessionStorage.
//
// Vendored libraries (assets/vendor, with their licenses; see
// docs/user-guide.md "How the console is built"):
//
//	preact 10.27.2      dist/preact.module.js, hooks/dist/hooks.module.js
//	htm 3.1.1           dist/htm.module.js
//	graphql-ws 6.0.6    dist/client.js and the chunk it imports
//
// hooks.module.js imports the bare specifier "preact"; the vendored copy
// imports "./preact.module.js" instead, so no import map (an inline script)
// is needed and the page runs under a CSP without 'unsafe-inline'.
package console

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed assets/index.html assets/*.js assets/*.css assets/vendor/*/*.js assets/vendor/*/LICENSE
var files embed.FS

// Prefix is where the console's assets are served.
const Prefix = "/console/"

// CSP is the Content-Security-Policy of the page and its assets: scripts and
// styles from this server only, no inline code, images from this server or
// data: URLs (the QR codes), connections to this server (POST /graphql and
// its websocket).
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the page for "GET /" and the assets for "GET /console/".
func Handler() http.Handler {
	sub, err := fs.Sub(files, "assets")
	if err != nil {
		panic("console: " + err.Error()) // embed paths are fixed at build time
	}
	index, err := fs.ReadFile(sub, "index.html")
	if err != nil {
		panic("console: " + err.Error())
	}
	assets := http.StripPrefix(Prefix, http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		switch {
		case r.URL.Path == "/":
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Cache-Control", "no-cache")
			_, _ = w.Write(index)
		case strings.HasPrefix(r.URL.Path, Prefix) && r.URL.Path != Prefix && !strings.HasSuffix(r.URL.Path, "/"):
			if r.URL.Path == Prefix+"index.html" {
				http.NotFound(w, r)
				return
			}
			h.Set("Cache-Control", "no-cache")
			assets.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}
