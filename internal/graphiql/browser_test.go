package graphiql_test

// GraphiQL in a real browser (headless Chromium through chromedp) against a
// real server: the token typed into the Headers pane is kept in
// sessionStorage and never in localStorage.

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"wagraph/internal/apptest"
	"wagraph/internal/auth"
	"wagraph/internal/testenv"
)

// storageOf returns every key and value of window[area] ("localStorage" or
// "sessionStorage").
func storageOf(t *testing.T, ctx context.Context, area string) map[string]string {
	t.Helper()
	js := `Object.fromEntries(Object.keys(` + area + `).map(k => [k, ` + area + `.getItem(k)]))`
	out, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](js))
	if err != nil {
		t.Fatalf("read %s: %v", area, err)
	}
	return out
}

// editorValue is the text of the CodeMirror editor under selector sel.
func editorValue(sel string) string {
	return `document.querySelector(` + jsString(sel) + `).CodeMirror.getValue()`
}

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

const (
	headersEditor = `section[aria-label="Headers"] .graphiql-editor:not(.hidden) .CodeMirror`
	queryEditor   = `.graphiql-query-editor .CodeMirror`
	responseView  = `.graphiql-response .CodeMirror`
)

// A person opens GraphiQL, finds the Headers pane open with the template,
// types the token after "Bearer " and runs a query: the query is answered
// with the token's role, the token is in sessionStorage and nowhere in
// localStorage, and a reload of the tab keeps the typed header.
func TestBrowserKeepsTheTokenInSessionStorageOnly(t *testing.T) {
	ctx := testenv.Browser(t, 60*time.Second)
	s := apptest.Start(t, apptest.Env{"LOG_LEVEL": "warn"})
	token := s.Token(t, auth.Viewer)

	if err := chromedp.Do(ctx,
		chromedp.Navigate(s.URL+"/graphiql"),
		chromedp.WaitVisible(chromedp.CSS(headersEditor)),
	); err != nil {
		t.Fatalf("open GraphiQL: %v", err)
	}
	template, err := chromedp.Run(ctx, chromedp.Evaluate[string](editorValue(headersEditor)))
	if err != nil {
		t.Fatal(err)
	}
	var tmpl map[string]string
	if err := json.Unmarshal([]byte(template), &tmpl); err != nil || len(tmpl) != 1 || tmpl["Authorization"] != "Bearer " {
		t.Fatalf("the Headers pane opens with %q, want the template {\"Authorization\": \"Bearer \"}", template)
	}

	// Type the token where the template's cursor would go: after "Bearer ".
	placeCursor := `(() => {
		const cm = document.querySelector(` + jsString(headersEditor) + `).CodeMirror;
		for (let line = 0; line < cm.lineCount(); line++) {
			const ch = cm.getLine(line).indexOf("Bearer ");
			if (ch >= 0) { cm.focus(); cm.setCursor({line, ch: ch + "Bearer ".length}); return true; }
		}
		return false;
	})()`
	if err := chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](placeCursor),
		chromedp.KeyEvent(token),
		chromedp.Evaluate[chromedp.Void](`document.querySelector(`+jsString(queryEditor)+`).CodeMirror.setValue("{ viewer { role } }")`),
		chromedp.Click(chromedp.CSS(`.graphiql-execute-button`)),
	); err != nil {
		t.Fatalf("type the token and run the query: %v", err)
	}
	typed, err := chromedp.Run(ctx, chromedp.Evaluate[string](editorValue(headersEditor)))
	if err != nil || !strings.Contains(typed, `"Bearer `+token+`"`) {
		t.Fatalf("after typing, the Headers pane holds %q (%v)", typed, err)
	}
	response, err := chromedp.Run(ctx, chromedp.Poll[string](`(() => {
		const el = document.querySelector(`+jsString(responseView)+`);
		const text = el && el.CodeMirror.getValue();
		return text && text.includes('"viewer"') ? text : null;
	})()`))
	if err != nil {
		t.Fatalf("no response shown: %v", err)
	}
	if !strings.Contains(response, `"role": "VIEWER"`) {
		t.Fatalf("the query was answered with %s, want the token's role VIEWER", response)
	}

	// GraphiQL saves its tabs a moment after a change: look once the tab
	// as typed is saved (in sessionStorage, as it must be).
	saved := `Object.keys(sessionStorage).some(k => k.endsWith("tabState") &&
		sessionStorage.getItem(k).includes(` + jsString(token) + `) && sessionStorage.getItem(k).includes("viewer"))`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](saved)); err != nil {
		t.Fatalf("GraphiQL never saved the tab in sessionStorage: %v; keys: %v", err, keys(storageOf(t, ctx, "sessionStorage")))
	}
	noTokenInLocalStorage(t, ctx, token)

	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(headersEditor))); err != nil {
		t.Fatalf("reload: %v", err)
	}
	afterReload, err := chromedp.Run(ctx, chromedp.Evaluate[string](editorValue(headersEditor)))
	if err != nil || !strings.Contains(afterReload, token) {
		t.Errorf("after a reload the Headers pane holds %q (%v), want the typed token", afterReload, err)
	}
	noTokenInLocalStorage(t, ctx, token)
}

// noTokenInLocalStorage fails t when any localStorage key or value holds token.
func noTokenInLocalStorage(t *testing.T, ctx context.Context, token string) {
	t.Helper()
	for k, v := range storageOf(t, ctx, "localStorage") {
		if strings.Contains(k+v, token) {
			t.Errorf("localStorage[%q] holds the token: %.200s", k, v)
		}
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
