package account

import "wagraph/internal/paging"

// Page sizes of the list queries (see internal/paging).
const (
	DefaultPageSize = paging.Default
	MaxPageSize     = paging.Max
)
