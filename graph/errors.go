package graph

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"syscall"
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
	if dependencyDown(err) {
		// A database or Redis that stopped answering mid-operation (over a
		// websocket the token was checked long before): the client should
		// retry, not report a bug.
		zerolog.Ctx(ctx).Warn().Err(err).Msg("graphql: a dependency is unavailable")
		e := apperr.New(apperr.Unavailable, "a dependency of this server is unavailable (request "+observe.RequestID(ctx)+")")
		gqlErr.Message, gqlErr.Extensions = e.Message, extensions(e)
		gqlErr.Extensions["requestId"] = observe.RequestID(ctx)
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

// dependencyDown reports whether err says that a database or Redis could not
// be reached or dropped the connection, as opposed to refusing the request.
// It knows the drivers only by the interfaces their errors implement, so
// graph imports none of them.
func dependencyDown(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	for _, errno := range []syscall.Errno{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED,
		syscall.EPIPE, syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH} {
		if errors.Is(err, errno) {
			return true
		}
	}
	if _, ok := errors.AsType[*net.OpError](err); ok {
		return true
	}
	if _, ok := errors.AsType[*net.DNSError](err); ok {
		return true
	}
	// Postgres: SQLSTATE class 08 (connection exception), 53 (insufficient
	// resources, e.g. too many connections) and 57P01-57P03 (shutting down,
	// starting up). pgx errors have SQLState(), bun's pgdriver Field('C').
	state := ""
	if e, ok := errors.AsType[interface {
		error
		SQLState() string
	}](err); ok {
		state = e.SQLState()
	} else if e, ok := errors.AsType[interface {
		error
		Field(byte) string
	}](err); ok {
		state = e.Field('C')
	}
	return strings.HasPrefix(state, "08") || strings.HasPrefix(state, "53") ||
		state == "57P01" || state == "57P02" || state == "57P03"
}

func extensions(e *apperr.Error) map[string]any {
	ext := map[string]any{"code": string(e.Code), "suggestion": e.Suggestion, "retryable": e.Retryable}
	if e.RetryAfter > 0 {
		ext["retryAfterSeconds"] = int(e.RetryAfter.Seconds() + 0.999)
	}
	if e.Field != "" {
		ext["field"] = e.Field
	}
	for k, v := range e.Extensions {
		if _, taken := ext[k]; !taken {
			ext[k] = v
		}
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
