package console_test

// The user guide's screenshots are taken by the browser tests, on the way:
//
//	go test ./internal/console/ -run 'TestConsole' -update-screenshots
//
// writes docs/images/console-<name>.png for every name in screenshots
// (a fixed laptop viewport, PNG). Without the flag the tests take none.

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "write the user guide's screenshots to docs/images/console-*.png")

// The laptop viewport of every test and screenshot.
const laptopW, laptopH = 1200, 800

// screenshots are the pictures in docs/user-guide.md, each taken by one test.
var screenshots = []string{
	"signin", "accounts", "account-qr", "reset-dialog", "error-toast", "health",
	"rate-limits", "rate-limits-form", "import", "import-progress", "import-big", "contacts", "contacts-selection", "contact", "personas",
	"sending", "batch", "batch-cancel", "pause", "groups", "group", "scrape",
}

var imagesDir = filepath.Join("..", "..", "docs", "images")

// shot saves the viewport as the screenshot name when -update-screenshots
// is given, scrolled to the element matching the CSS selector top when
// given.
func shot(t *testing.T, ctx context.Context, name string, top ...string) {
	t.Helper()
	if !slices.Contains(screenshots, name) {
		t.Fatalf("screenshot %q is not in the list of the user guide's screenshots", name)
	}
	if !*updateScreenshots {
		return
	}
	for _, sel := range top {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const el = document.querySelector(`+jsString(sel)+`); window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 16); return true; })()`)); err != nil {
			t.Fatalf("screenshot %s: scroll to %s: %v", name, sel, err)
		}
	}
	// No caret or focus ring in the pictures.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.activeElement && document.activeElement.matches("input, select, h2") ? (document.activeElement.blur(), true) : false`)); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(imagesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(imagesDir, "console-"+name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Every screenshot is in docs/images and shown in the user guide, and the
// guide shows no console picture that the tests do not take.
func TestUserGuideShowsEveryScreenshot(t *testing.T) {
	guide, err := os.ReadFile(filepath.Join("..", "..", "docs", "user-guide.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range screenshots {
		file := "console-" + name + ".png"
		if _, err := os.Stat(filepath.Join(imagesDir, file)); err != nil {
			t.Errorf("%s is missing; run go test ./internal/console/ -run TestConsole -update-screenshots", file)
		}
		if !strings.Contains(string(guide), "](images/"+file+")") {
			t.Errorf("docs/user-guide.md does not show images/%s", file)
		}
	}
	files, _ := filepath.Glob(filepath.Join(imagesDir, "console-*.png"))
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "console-"), ".png")
		if !slices.Contains(screenshots, name) {
			t.Errorf("%s is not taken by any test; delete it", f)
		}
	}
}
