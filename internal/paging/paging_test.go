package paging_test

import (
	"testing"

	"wagraph/internal/apperr"
	"wagraph/internal/paging"
)

func TestSize(t *testing.T) {
	n := func(v int) *int { return &v }
	for _, tc := range []struct {
		first *int
		want  int
		ok    bool
	}{
		{nil, paging.Default, true},
		{n(0), 0, true},
		{n(paging.Max), paging.Max, true},
		{n(paging.Max + 1), 0, false},
		{n(-1), 0, false},
	} {
		got, err := paging.Size(tc.first)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("Size(%v) = %d, %v", tc.first, got, err)
		}
		if err != nil {
			if e, ok := apperr.As(err); !ok || e.Code != apperr.InvalidInput || e.Field != "first" {
				t.Errorf("Size(%v) error %v, want INVALID_INPUT on first", tc.first, err)
			}
		}
	}
}
