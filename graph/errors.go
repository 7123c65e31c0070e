package graph

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/rs/zerolog"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"wagraph/internal/apperr"
	"wagraph/internal/observe"
)

// gqlgen's own codes for errors found before execution, mapped to a
// suggestion (they keep their code so clients can tell them apart).
var requestErrorSuggestions = map[string]string{
	"GRAPHQL_PARSE_FAILED":      "Fix the query syntax at the reported location.",
	"GRAPHQL_VALIDATION_FAILED": "Check field and argument names against the schema (GraphiQL's docs list them).",
}

// ErrorPresenter shows coded errors as they are, with code, suggestion and
// retryable in extensions, and masks everything else as INTERNAL with the
// request id, logging the real error so operators can find it.
func ErrorPresenter(ctx context.Context, err error) *gqlerror.Error {
	gqlErr := graphql.DefaultErrorPresenter(ctx, err)
	if ae, ok := apperr.As(err); ok {
		gqlErr.Message = ae.Message
		gqlErr.Extensions = extensions(ae)
		if ae.Code == apperr.Internal {
			logMasked(ctx, err)
			gqlErr.Extensions["requestId"] = observe.RequestID(ctx)
		}
		return gqlErr
	}
	if gqlErr.Err == nil { // raised by gqlgen itself: parse, validation, complexity
		code, _ := gqlErr.Extensions["code"].(string)
		if gqlErr.Extensions == nil {
			gqlErr.Extensions = map[string]any{}
		}
		switch code {
		case "":
			code = string(apperr.InvalidInput)
		case "COMPLEXITY_LIMIT_EXCEEDED": // one catalog: clients see our code
			code = string(apperr.QueryTooComplex)
		}
		gqlErr.Extensions["code"] = code
		if s, ok := requestErrorSuggestions[code]; ok {
			gqlErr.Extensions["suggestion"] = s
		} else if s := apperr.Suggestion(apperr.Code(code)); s != "" {
			gqlErr.Extensions["suggestion"] = s
		} else {
			gqlErr.Extensions["suggestion"] = apperr.Suggestion(apperr.InvalidInput)
		}
		gqlErr.Extensions["retryable"] = false
		return gqlErr
	}
	if gqlErr.Err.Error() == "introspection disabled" { // gqlgen's own, unexported error
		e := apperr.New(apperr.Forbidden, "introspection is disabled on this server").
			WithSuggestion("Read the schema from the schema/ directory, or ask the operators to set GRAPHQL_INTROSPECTION=true.")
		gqlErr.Message, gqlErr.Extensions = e.Message, extensions(e)
		return gqlErr
	}
	if pe, ok := errors.AsType[*time.ParseError](err); ok {
		e := apperr.New(apperr.InvalidInput, pe.Error()).WithSuggestion("Send times as RFC 3339, e.g. 2026-11-24T21:16:52Z.")
		gqlErr.Message, gqlErr.Extensions = e.Message, extensions(e)
		return gqlErr
	}
	logMasked(ctx, err)
	masked := apperr.New(apperr.Internal, "internal error (request "+observe.RequestID(ctx)+")")
	gqlErr.Message = masked.Message
	gqlErr.Extensions = extensions(masked)
	gqlErr.Extensions["requestId"] = observe.RequestID(ctx)
	gqlErr.Err = err
	return gqlErr
}

func extensions(e *apperr.Error) map[string]any {
	ext := map[string]any{"code": string(e.Code), "suggestion": e.Suggestion, "retryable": e.Retryable}
	if e.RetryAfter > 0 {
		ext["retryAfterSeconds"] = int(e.RetryAfter.Seconds() + 0.999)
	}
	if e.Field != "" {
		ext["field"] = e.Field
	}
	return ext
}

func logMasked(ctx context.Context, err error) {
	// The request logger in ctx already carries request_id.
	zerolog.Ctx(ctx).Error().Err(err).Msg("graphql: internal error (masked for the client)")
}

// RecoverFunc turns a resolver panic into a masked INTERNAL error and logs
// the stack with the request id.
func RecoverFunc(ctx context.Context, p any) error {
	zerolog.Ctx(ctx).Error().Str("panic", fmt.Sprint(p)).
		Bytes("stack", debug.Stack()).Msg("graphql: resolver panicked")
	return apperr.Wrap(fmt.Errorf("panic: %v", p), apperr.Internal, "internal error (request "+observe.RequestID(ctx)+")")
}

// presentError returns err as the client would see it, for responses built
// outside the executor's presenter (operation interceptors).
func presentError(ctx context.Context, err error) *gqlerror.Error {
	return ErrorPresenter(ctx, err)
}

// CodeOf returns the catalog code a presented error carries, for metrics.
func CodeOf(err error) string {
	var gqlErr *gqlerror.Error
	if errors.As(err, &gqlErr) {
		if c, ok := gqlErr.Extensions["code"].(string); ok {
			return c
		}
	}
	return string(apperr.CodeOf(err))
}
