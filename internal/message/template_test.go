package message

import (
	"strings"
	"testing"
	"unicode/utf8"

	"wagraph/internal/apperr"
	"wagraph/internal/contact"
)

func TestTemplate(t *testing.T) {
	ana := &contact.Contact{Phone: "+4915100000001", FullName: "Ana Lima", PushName: "ana", Attributes: map[string]string{"city": "Porto"}}
	bare := &contact.Contact{Phone: "+4915100000002", PushName: "", BusinessName: "Bar GmbH"}
	for _, tc := range []struct{ text, ana, bare string }{
		{"Hello {{name}}!", "Hello Ana Lima!", "Hello Bar GmbH!"},
		{"Hi {{ first_name }}", "Hi Ana", "Hi Bar"},
		{"{{full_name|friend}} from {{attr.city|nowhere}}", "Ana Lima from Porto", "friend from nowhere"},
		{"{{push_name}}/{{business_name}}/{{phone}}", "ana//+4915100000001", "/Bar GmbH/+4915100000002"},
		{"no placeholders {single}", "no placeholders {single}", "no placeholders {single}"},
	} {
		tmpl, err := parseTemplate("text", tc.text)
		if err != nil {
			t.Fatalf("%q: %v", tc.text, err)
		}
		if got := tmpl.render(ana); got != tc.ana {
			t.Errorf("%q for Ana = %q, want %q", tc.text, got, tc.ana)
		}
		if got := tmpl.render(bare); got != tc.bare {
			t.Errorf("%q for bare = %q, want %q", tc.text, got, tc.bare)
		}
	}
	for text, want := range map[string]string{
		"Hi {{nickname}}": "unknown placeholder {{nickname}}",
		"Hi {{}}":         "unknown placeholder {{}}",
		"Hi {{attr.}}":    "unknown placeholder {{attr.}}",
		"Hi {{name":       `a placeholder is not closed: "{{name"`,
	} {
		_, err := parseTemplate("text", text)
		e, ok := apperr.As(err)
		if !ok || e.Code != apperr.InvalidInput || e.Field != "text" || e.Message != want || e.Suggestion == "" {
			t.Errorf("%q: %v, want INVALID_INPUT %q", text, err, want)
		}
	}
}

// The template parser reads client input: it never panics, and what it
// accepts renders to valid text without leftover known placeholders.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"Hi {{name}}", "{{attr.x|y}}", "{{", "}}{{", "{{name|}}{{phone}}", "\xff{{name}}"} {
		f.Add(s)
	}
	c := &contact.Contact{Phone: "+4915100000001", FullName: "Ana", Attributes: map[string]string{"x": "1"}}
	f.Fuzz(func(t *testing.T, text string) {
		tmpl, err := parseTemplate("text", text)
		if err != nil {
			if _, ok := apperr.As(err); !ok {
				t.Fatalf("uncoded error %v", err)
			}
			return
		}
		out := tmpl.render(c)
		if utf8.ValidString(text) && !utf8.ValidString(out) {
			t.Fatalf("render(%q) = %q: invalid UTF-8", text, out)
		}
		if strings.Contains(text, "{{name}}") && strings.Contains(out, "{{name}}") && !strings.Contains(c.FullName, "{{") {
			t.Fatalf("render(%q) = %q left a placeholder", text, out)
		}
	})
}
