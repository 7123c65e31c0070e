package console_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"wagraph/internal/console"
)

func get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	console.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Result(), string(body)
}

// The page loads one module script from /console/ and no inline code, under
// a CSP that allows no inline script or style.
func TestPageHasNoInlineCode(t *testing.T) {
	resp, body := get(t, "/")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Security-Policy") != console.CSP {
		t.Fatalf("GET / = %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	if strings.Contains(console.CSP, "unsafe") {
		t.Errorf("the CSP allows unsafe code: %s", console.CSP)
	}
	if strings.Count(body, "<script") != 1 || !strings.Contains(body, `<script type="module" src="/console/app.js"></script>`) || strings.Contains(body, "style=") {
		t.Errorf("the page must load exactly one module script and no inline code:\n%s", body)
	}
}

// Every vendored library is served with its license, and the scripts import
// one another by relative path (no bare specifiers, so no import map).
func TestVendoredModulesAndLicenses(t *testing.T) {
	for _, lib := range []string{"preact", "htm", "graphql-ws"} {
		if resp, body := get(t, console.Prefix+"vendor/"+lib+"/LICENSE"); resp.StatusCode != http.StatusOK || !(strings.Contains(body, "Permission is hereby granted") || strings.Contains(body, "Apache License")) {
			t.Errorf("%s: LICENSE = %d", lib, resp.StatusCode)
		}
	}
	for _, path := range []string{"app.js", "vendor/preact/preact.module.js", "vendor/preact/hooks.module.js", "vendor/htm/htm.module.js", "vendor/graphql-ws/client.js"} {
		resp, body := get(t, console.Prefix+path)
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
			t.Errorf("%s = %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		for _, bare := range []string{`from"preact"`, `from "preact"`, `from 'preact'`, `from "graphql"`} {
			if strings.Contains(body, bare) {
				t.Errorf("%s imports a bare specifier: %s", path, bare)
			}
		}
	}
	for _, path := range []string{console.Prefix, console.Prefix + "index.html", console.Prefix + "vendor/", "/other"} {
		if resp, _ := get(t, path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, resp.StatusCode)
		}
	}
}
