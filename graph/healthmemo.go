package graph

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"

	"wagraph/internal/observe"
)

// The health query needs no token, and one operation may select it under
// hundreds of aliases. Each selection would run every readiness check again
// (database round trips), so one small anonymous request could cost hundreds
// of queries. memoHealth gives each operation one report, computed when the
// first health field is resolved.
type healthMemoKey struct{}

type healthMemo struct {
	once   sync.Once
	report observe.Report
}

func memoHealth(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	return next(context.WithValue(ctx, healthMemoKey{}, &healthMemo{}))
}

// healthReport returns the operation's health report, running the checks
// on the first call only.
func healthReport(ctx context.Context, h *observe.Health) observe.Report {
	m, ok := ctx.Value(healthMemoKey{}).(*healthMemo)
	if !ok {
		return h.Report(ctx)
	}
	m.once.Do(func() { m.report = h.Report(ctx) })
	return m.report
}
