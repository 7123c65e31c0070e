package graphiql

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/playground"
)

// tagRe and attrRe pick the <script> and <link> tags out of the page and
// their attributes; the page is gqlgen's fixed template, not arbitrary HTML.
var (
	tagRe  = regexp.MustCompile(`(?s)<(script|link)\b[^>]*>`)
	attrRe = regexp.MustCompile(`(\w+)="([^"]*)"`)
)

type subresource struct{ url, integrity string }

// subresources lists the URLs the page loads with the integrity each declares.
func subresources(t *testing.T, page string) []subresource {
	t.Helper()
	var out []subresource
	for _, tag := range tagRe.FindAllString(page, -1) {
		attrs := map[string]string{}
		for _, m := range attrRe.FindAllStringSubmatch(tag, -1) {
			attrs[m[1]] = html.UnescapeString(m[2]) // as the browser reads it: "&#43;" is "+"
		}
		u := attrs["src"] + attrs["href"]
		if u == "" {
			continue // the inline script
		}
		out = append(out, subresource{u, attrs["integrity"]})
	}
	return out
}

func get(t *testing.T, h http.Handler, method, target string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sri(b string) string {
	sum := sha256.Sum256([]byte(b))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

func TestPageLoadsOnlyEmbeddedAssets(t *testing.T) {
	h := Handler("/graphql", Options{})
	for _, path := range []string{"/graphiql", "/graphiql/"} {
		t.Run(path, func(t *testing.T) {
			res := get(t, h, http.MethodGet, path)
			doc := body(t, res)
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/html; charset=utf-8" {
				t.Fatalf("GET %s: %d %q", path, res.StatusCode, res.Header.Get("Content-Type"))
			}
			for _, bad := range []string{"https://", "http://", "cdn.jsdelivr.net", "plugin-explorer"} {
				if strings.Contains(doc, bad) {
					t.Errorf("page contains %q; it must load nothing from outside", bad)
				}
			}
			subs := subresources(t, doc)
			if len(subs) != 4 {
				t.Fatalf("page loads %d subresources, want GraphiQL JS+CSS and React+ReactDOM: %v", len(subs), subs)
			}
			for _, s := range subs {
				if !strings.HasPrefix(s.url, "/graphiql/assets/") {
					t.Errorf("subresource %q is not under /graphiql/assets/", s.url)
				}
			}
			for _, want := range []string{
				`const defaultHeaders = {"Authorization":"Bearer "};`,
				`defaultEditorToolsVisibility: defaultHeaders ? 'headers' : undefined`,
				`storage: new SessionStorage("wagraph")`,
				`<title>wagraph</title>`,
				`location.host + "/graphql"`,
			} {
				if !strings.Contains(doc, want) {
					t.Errorf("page lacks %s", want)
				}
			}
			// GraphiQL falls back to localStorage only without a storage.
			if strings.Contains(doc, "localStorage") {
				t.Errorf("page mentions localStorage; the token must stay in sessionStorage")
			}
		})
	}
}

// The browser refuses a script or stylesheet whose bytes do not match the
// page's integrity attribute, which would leave GraphiQL blank.
func TestAssetsMatchPageIntegrity(t *testing.T) {
	h := Handler("/graphql", Options{})
	wantType := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
	for _, s := range subresources(t, body(t, get(t, h, http.MethodGet, "/graphiql"))) {
		t.Run(s.url, func(t *testing.T) {
			res := get(t, h, http.MethodGet, s.url)
			b := body(t, res)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d", s.url, res.StatusCode)
			}
			if got, want := res.Header.Get("Content-Type"), wantType[s.url[strings.LastIndex(s.url, "."):]]; got != want {
				t.Errorf("Content-Type %q, want %q", got, want)
			}
			if got := res.Header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
				t.Errorf("Cache-Control %q", got)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q", got)
			}
			if got := sri(b); got != s.integrity {
				t.Errorf("served bytes hash to %s, page declares %s", got, s.integrity)
			}
		})
	}
}

// The embedded files are the very releases gqlgen's page pins on the CDN. If
// a gqlgen upgrade moves to other versions, this fails: re-vendor with npm.
func TestEmbeddedFilesAreGqlgensPinnedReleases(t *testing.T) {
	cdn := subresources(t, body(t, get(t, playground.Handler("x", "/graphql"), http.MethodGet, "/")))
	ours := subresources(t, body(t, get(t, Handler("/graphql", Options{}), http.MethodGet, "/graphiql")))
	if len(cdn) != len(ours) {
		t.Fatalf("gqlgen's page loads %d subresources, ours %d", len(cdn), len(ours))
	}
	for i := range cdn {
		// ".../npm/graphiql@4.1.2/graphiql.min.js" ~ "/graphiql/assets/graphiql-4.1.2/graphiql.min.js"
		parts := strings.Split(cdn[i].url, "/")
		pkgFile := strings.Replace(parts[len(parts)-2], "@", "-", 1) + "/" + parts[len(parts)-1]
		if parts[len(parts)-2] == "umd" {
			pkgFile = strings.Replace(parts[len(parts)-3], "@", "-", 1) + "/" + parts[len(parts)-1]
		}
		if want := "/graphiql/assets/" + pkgFile; ours[i].url != want {
			t.Errorf("subresource %d is %s; gqlgen loads %s, so expected %s", i, ours[i].url, cdn[i].url, want)
		}
		if ours[i].integrity != cdn[i].integrity {
			t.Errorf("%s: embedded %s, gqlgen pins %s for %s", ours[i].url, ours[i].integrity, cdn[i].integrity, cdn[i].url)
		}
	}
}

func TestRequests(t *testing.T) {
	h := Handler("/graphql", Options{})
	page := get(t, h, http.MethodGet, "/graphiql")
	js := "/graphiql/assets/" + graphiqlJS
	jsETag := get(t, h, http.MethodGet, js).Header.Get("ETag")
	tests := []struct {
		name       string
		method     string
		target     string
		header     []string
		wantStatus int
		wantBody   bool
	}{
		{"license served", http.MethodGet, "/graphiql/assets/graphiql-4.1.2/LICENSE", nil, http.StatusOK, true},
		{"HEAD of page", http.MethodHead, "/graphiql", nil, http.StatusOK, false},
		{"page revalidated", http.MethodGet, "/graphiql/", []string{"If-None-Match", page.Header.Get("ETag")}, http.StatusNotModified, false},
		{"asset revalidated", http.MethodGet, js, []string{"If-None-Match", jsETag}, http.StatusNotModified, false},
		{"unknown asset", http.MethodGet, "/graphiql/assets/graphiql-4.1.2/graphiql.min.js.map", nil, http.StatusNotFound, true},
		{"asset dir", http.MethodGet, "/graphiql/assets/graphiql-4.1.2/", nil, http.StatusNotFound, true},
		{"traversal", http.MethodGet, "/graphiql/assets/../graphiql.go", nil, http.StatusNotFound, true},
		{"other path", http.MethodGet, "/graphiql/other", nil, http.StatusNotFound, true},
		{"POST", http.MethodPost, "/graphiql", nil, http.StatusMethodNotAllowed, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := get(t, h, tt.method, tt.target, tt.header...)
			b := body(t, res)
			if res.StatusCode != tt.wantStatus {
				t.Errorf("%s %s: %d, want %d", tt.method, tt.target, res.StatusCode, tt.wantStatus)
			}
			if (b != "") != tt.wantBody {
				t.Errorf("%s %s: body %.60q, want body: %v", tt.method, tt.target, b, tt.wantBody)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	h := Handler("https://api.example.test/graphql", Options{
		Path:          "/tools/ide/",
		Title:         "Ops",
		Headers:       map[string]string{},
		StoragePrefix: "ops",
	})
	doc := body(t, get(t, h, http.MethodGet, "/tools/ide"))
	for _, s := range subresources(t, doc) {
		if !strings.HasPrefix(s.url, "/tools/ide/assets/") {
			t.Errorf("subresource %q is not under the configured path", s.url)
		}
		if res := get(t, h, http.MethodGet, s.url); res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", s.url, res.StatusCode)
		}
	}
	for _, want := range []string{"<title>Ops</title>", `new SessionStorage("ops")`, "const defaultHeaders =  null ;", `"wss://api.example.test/graphql"`} {
		if !strings.Contains(doc, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if res := get(t, h, http.MethodGet, "/graphiql"); res.StatusCode != http.StatusNotFound {
		t.Errorf("default path still answers %d with a custom Path", res.StatusCode)
	}
}

// Mounted the way internal/app does, both page URLs and the assets answer
// through the mux, and the mux itself refuses other methods.
func TestMountedOnServeMux(t *testing.T) {
	h := Handler("/graphql", Options{})
	mux := http.NewServeMux()
	mux.Handle("GET /graphiql", h)
	mux.Handle("GET /graphiql/", h)
	for _, target := range []string{"/graphiql", "/graphiql/", "/graphiql/assets/" + reactJS} {
		if res := get(t, mux, http.MethodGet, target); res.StatusCode != http.StatusOK {
			t.Errorf("GET %s through the mux: %d", target, res.StatusCode)
		}
	}
	if res := get(t, mux, http.MethodPost, "/graphiql"); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /graphiql through the mux: %d", res.StatusCode)
	}
}
