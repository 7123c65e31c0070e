package message

import (
	"fmt"
	"strings"

	"wagraph/internal/apperr"
	"wagraph/internal/contact"
)

// A template is a batch's text with placeholders, filled in per contact:
//
//	{{name}}           the contact's name: full name, else WhatsApp push
//	                   name, else business name
//	{{first_name}}     the first word of {{name}}
//	{{full_name}}, {{push_name}}, {{business_name}}, {{phone}} (E.164)
//	{{attr.KEY}}       the contact's attribute KEY (from imports or the API)
//
// A placeholder may give a fallback for contacts without the value:
// {{name|there}} reads "there" when the contact has no name. Without one,
// a missing value is empty. Spaces inside the braces are ignored. An
// unknown placeholder or an unclosed "{{" is INVALID_INPUT naming it.
type template struct {
	parts []part
}

// part is literal text or, when field is set, a placeholder.
type part struct {
	text     string
	field    string
	fallback string
}

// placeholderNames lists the placeholders besides attr.KEY.
var placeholderNames = []string{"name", "first_name", "full_name", "push_name", "business_name", "phone"}

func parseTemplate(field, text string) (*template, error) {
	t := &template{}
	rest := text
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			t.parts = append(t.parts, part{text: rest})
			return t, nil
		}
		t.parts = append(t.parts, part{text: rest[:i]})
		rest = rest[i+2:]
		j := strings.Index(rest, "}}")
		if j < 0 {
			return nil, apperr.Invalid(field, fmt.Sprintf("a placeholder is not closed: %q", clip("{{"+rest)),
				"Close every placeholder with }}, e.g. {{name}}.")
		}
		inner := rest[:j]
		rest = rest[j+2:]
		name, fallback, _ := strings.Cut(inner, "|")
		name = strings.TrimSpace(name)
		if !knownPlaceholder(name) {
			return nil, apperr.Invalid(field, fmt.Sprintf("unknown placeholder {{%s}}", clip(name)),
				"Use "+strings.Join(wrap(placeholderNames), ", ")+" or {{attr.KEY}} (see docs/sending.md).")
		}
		t.parts = append(t.parts, part{field: name, fallback: strings.TrimSpace(fallback)})
	}
}

func knownPlaceholder(name string) bool {
	if key, ok := strings.CutPrefix(name, "attr."); ok {
		return key != "" && !strings.ContainsAny(key, "{}|")
	}
	for _, n := range placeholderNames {
		if n == name {
			return true
		}
	}
	return false
}

func wrap(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "{{" + n + "}}"
	}
	return out
}

// render fills the template in for c.
func (t *template) render(c *contact.Contact) string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.field == "" {
			b.WriteString(p.text)
			continue
		}
		v := value(c, p.field)
		if v == "" {
			v = p.fallback
		}
		b.WriteString(v)
	}
	return strings.TrimSpace(b.String())
}

func value(c *contact.Contact, field string) string {
	if key, ok := strings.CutPrefix(field, "attr."); ok {
		return c.Attributes[key]
	}
	switch field {
	case "name":
		return firstOf(c.FullName, c.PushName, c.BusinessName)
	case "first_name":
		name, _, _ := strings.Cut(firstOf(c.FullName, c.PushName, c.BusinessName), " ")
		return name
	case "full_name":
		return c.FullName
	case "push_name":
		return c.PushName
	case "business_name":
		return c.BusinessName
	case "phone":
		return c.Phone
	}
	return ""
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}
