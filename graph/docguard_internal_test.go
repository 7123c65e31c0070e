package graph

import "testing"

func TestBraceDepth(t *testing.T) {
	for q, want := range map[string]int{
		`{ a { b } }`:                            2,
		`{ a(s: "{{{{") { b } }`:                 2,
		`{ a(s: "\"{{{{") }`:                     1,
		"{ a # {{{{\n }":                         1,
		`{ a(s: """ {{{ "" \""" {{ """) { b } }`: 2,
		`}}} { a }`:                              1,
		`{ a(s: "unterminated {{{`:               1,
	} {
		if got := braceDepth(q, 64); got != want {
			t.Errorf("braceDepth(%q) = %d, want %d", q, got, want)
		}
	}
	if got := braceDepth("{{{{{{{{{{", 3); got != 4 {
		t.Errorf("braceDepth stops at limit+1, got %d", got)
	}
}
