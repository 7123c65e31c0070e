// Package paging holds the page-size rule that every cursor-paged list of the
// API shares, so a client meets one default, one cap and one error.
package paging

import (
	"strconv"

	"wagraph/internal/apperr"
)

// Page sizes of the list queries.
const (
	// Default is the page size when a query gives no "first".
	Default = 20
	// Max is the largest "first" a list accepts.
	Max = 100
)

// Size validates a requested page size ("first"); nil means Default.
func Size(first *int) (int, error) {
	if first == nil {
		return Default, nil
	}
	if *first < 0 || *first > Max {
		return 0, apperr.Invalid("first", "first must be between 0 and "+strconv.Itoa(Max),
			"Ask for at most "+strconv.Itoa(Max)+" items and page on with 'after'.")
	}
	return *first, nil
}
