package account

import (
	"strconv"

	"wagraph/internal/apperr"
)

// Page sizes of the list queries.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// pageSize validates a requested page size ("first"); nil means the default.
func pageSize(first *int) (int, error) {
	if first == nil {
		return DefaultPageSize, nil
	}
	if *first < 0 || *first > MaxPageSize {
		return 0, apperr.Invalid("first", "first must be between 0 and "+strconv.Itoa(MaxPageSize),
			"Ask for at most "+strconv.Itoa(MaxPageSize)+" items and page on with 'after'.")
	}
	return *first, nil
}
