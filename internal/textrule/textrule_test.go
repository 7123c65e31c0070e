package textrule

import (
	"strings"
	"testing"

	"wagraph/internal/apperr"
)

var name = Label{Field: "name", What: "account name", MaxChars: 10, Example: "Sales 1"}

func TestLabelAccepts(t *testing.T) {
	cases := map[string]string{
		"  Sales 1 ":   "Sales 1",
		"Müller":       "Müller",
		"Mu\u0308ller": "Mu\u0308ller", // decomposed ü: one character
		"🇩🇪🇫🇷🇮🇹🇪🇸🇵🇹🇳🇱🇧🇪🇦🇹🇨🇭🇩🇰": "🇩🇪🇫🇷🇮🇹🇪🇸🇵🇹🇳🇱🇧🇪🇦🇹🇨🇭🇩🇰", // 10 flags, 20 code points
		"👨‍👩‍👧‍👦 Team":   "👨‍👩‍👧‍👦 Team",
		"مبيعات\u200f 1": "مبيعات\u200f 1", // RLM is allowed
		"営業 東京":          "営業 東京",
		"a\u200db":       "a\u200db",
	}
	for in, want := range cases {
		got, err := name.Check(in)
		if err != nil || got != want {
			t.Errorf("Check(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestLabelRefuses(t *testing.T) {
	cases := []struct{ label, in, says string }{
		{"empty", "", "empty"},
		{"white space", " \t\n ", "empty"},
		{"zero-width space only", "\u200b\u200b", "no visible"},
		{"joiners and variation selectors", "\u200d\ufe0f\u2060", "no visible"},
		{"hangul filler", "\u3164\u3164", "no visible"},
		{"braille blank", "\u2800", "no visible"},
		{"combining marks only", "\u0301\u0302", "no visible"},
		{"NUL", "Sales\x00", "control character U+0000"},
		{"newline inside", "Sales\nBerlin", "control character U+000A"},
		{"escape", "\x1b[31mred", "control character U+001B"},
		{"C1 control", "Sa\u0085les", "control character U+0085"},
		{"RLO", "invoice\u202egpj.exe", "bidi control U+202E"},
		{"LRE", "\u202aSales", "bidi control U+202A"},
		{"isolate", "Sales \u2067x\u2069", "bidi control U+2067"},
		{"eleven characters", "abcdefghijk", "11 characters"},
		{"eleven flags", strings.Repeat("🇩🇪", 11), "11 characters"},
		{"zalgo", "a" + strings.Repeat("\u0301", 40), "combining marks"},
		{"invalid UTF-8", "Sales\xff", "UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.label, func(t *testing.T) {
			got, err := name.Check(c.in)
			ae, ok := apperr.As(err)
			if !ok || ae.Code != apperr.InvalidInput || ae.Field != "name" {
				t.Fatalf("Check(%q) = %q, %v; want INVALID_INPUT on name", c.in, got, err)
			}
			if !strings.Contains(ae.Message, c.says) {
				t.Errorf("message %q does not say %q", ae.Message, c.says)
			}
			if ae.Suggestion == "" || ae.Suggestion == apperr.Suggestion(apperr.InvalidInput) {
				t.Errorf("suggestion %q is not specific", ae.Suggestion)
			}
		})
	}
}
