// Package textrule checks the short labels people type and other people read
// back: account names, token names. A label is trimmed, must contain
// something visible, may not contain control characters or the bidi controls
// that make text display in an order other than the one stored (the
// "Trojan Source" trick), and is limited in user-perceived characters
// (grapheme clusters), so a flag or a family emoji counts as one, not as the
// four to eleven code points it is made of.
package textrule

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"

	"wagraph/internal/apperr"
)

// maxClusterBytes bounds one user-perceived character. The longest emoji ZWJ
// sequences stay far below it; a letter carrying hundreds of combining marks
// ("Zalgo" text, which draws over neighbouring lines) does not.
const maxClusterBytes = 64

// Label is the rule for one kind of label.
type Label struct {
	// Field is the input field reported in errors, e.g. "name".
	Field string
	// What names the label in messages, e.g. "account name".
	What string
	// MaxChars is the most user-perceived characters allowed.
	MaxChars int
	// Example is a good value, shown in suggestions.
	Example string
}

// Check returns raw with surrounding white space removed, or an
// INVALID_INPUT error on l.Field whose suggestion says what to type.
func (l Label) Check(raw string) (string, error) {
	s := strings.TrimFunc(raw, unicode.IsSpace)
	if s == "" {
		return "", l.invalid("the "+l.What+" is empty", "")
	}
	if !utf8.ValidString(s) {
		return "", l.invalid("the "+l.What+" is not valid UTF-8 text", "")
	}
	visible := false
	for _, r := range s {
		switch {
		case isBidiControl(r):
			return "", l.invalid(fmt.Sprintf("the %s contains the bidi control U+%04X, which makes text display in a different order than it is stored", l.What, r),
				"Type the name without direction overrides or isolates; right-to-left scripts display correctly without them.")
		case unicode.IsControl(r):
			return "", l.invalid(fmt.Sprintf("the %s contains the control character U+%04X", l.What, r),
				"Type the name on one line, without tabs, line breaks or other control characters.")
		case !isInvisible(r):
			visible = true
		}
	}
	if !visible {
		return "", l.invalid("the "+l.What+" has no visible characters", "")
	}
	chars := 0
	state := -1
	for rest := s; rest != ""; chars++ {
		var cluster string
		cluster, rest, _, state = uniseg.FirstGraphemeClusterInString(rest, state)
		if len(cluster) > maxClusterBytes {
			return "", l.invalid("the "+l.What+" contains a character with too many combining marks", "")
		}
	}
	if chars > l.MaxChars {
		return "", l.invalid(fmt.Sprintf("the %s is %d characters long; at most %d are allowed", l.What, chars, l.MaxChars),
			fmt.Sprintf("Use a shorter name (at most %d characters), e.g. %q.", l.MaxChars, l.Example))
	}
	return s, nil
}

func (l Label) invalid(msg, suggestion string) error {
	if suggestion == "" {
		suggestion = fmt.Sprintf("Give the %s visible text people will recognise, at most %d characters, e.g. %q.", l.What, l.MaxChars, l.Example)
	}
	return apperr.Invalid(l.Field, msg, suggestion)
}

// isBidiControl reports the explicit directional embeddings, overrides and
// isolates (U+202A..U+202E, U+2066..U+2069). The implicit marks (LRM, RLM,
// ALM) are allowed: they cannot reorder text beyond their neighbours and
// right-to-left writers use them.
func isBidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}

// isInvisible reports characters that draw nothing on their own: white
// space, format characters (zero-width space and joiners, soft hyphen, ...),
// combining marks without a base, default-ignorable code points (variation
// selectors, ...) and the blank letters some scripts have (Hangul fillers,
// the blank Braille pattern).
func isInvisible(r rune) bool {
	switch r {
	case 0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800:
		return true
	}
	return unicode.IsSpace(r) || unicode.In(r, unicode.Z, unicode.Cf, unicode.Mn, unicode.Me, unicode.Cc,
		unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector)
}
