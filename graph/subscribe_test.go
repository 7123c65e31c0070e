package graph

import (
	"context"
	"sync"
	"testing"
	"unique"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"wagraph/internal/live"
)

// A stream failing outside a websocket (no error channel to the client) is
// still counted, and does not panic in gqlgen's AddSubscriptionError.
func TestFailSubscriptionOutsideAWebsocket(t *testing.T) {
	st := &subscriptionState{}
	st.fail(context.Background(), live.ErrTooSlow)
	if st.failure != "SUBSCRIBER_TOO_SLOW" {
		t.Errorf("recorded failure %q, want SUBSCRIBER_TOO_SLOW", st.failure)
	}
}

// fakeStream plays a list of events, each with its delivery memo (nil for
// a snapshot event), then err.
type fakeStream struct {
	memos     []*sync.Map
	err       error
	delivered int
	ended     bool
}

func (s *fakeStream) next(context.Context) (responseMemo, error) {
	if len(s.memos) == 0 {
		return responseMemo{}, s.err
	}
	m := s.memos[0]
	s.memos = s.memos[1:]
	return responseMemo{shared: m}, nil
}
func (s *fakeStream) deliver() { s.delivered++ }
func (s *fakeStream) end()     { s.ended = true }

// executor stands in for gqlgen's response handler: it "executes" each
// delivered event into a response naming the query and the execution.
type executor struct {
	executions int
	errors     bool // respond with an error
}

func (e *executor) handler(st *subscriptionState, s *fakeStream) graphql.ResponseHandler {
	return func(context.Context) *graphql.Response {
		if s.ended {
			return nil
		}
		e.executions++
		resp := &graphql.Response{Data: []byte(`{"query":"` + st.query.Value() + `","execution":` + string(rune('0'+e.executions)) + `}`)}
		if e.errors {
			resp.Errors = gqlerror.List{{Message: "boom"}}
		}
		return resp
	}
}

// Subscribers with the same query get the bytes of one execution of a
// delivery; another query, a snapshot event or an errored response is
// executed for its own subscriber.
func TestRespondSharesOneExecutionPerQueryAndDelivery(t *testing.T) {
	delivery, later := &sync.Map{}, &sync.Map{}
	var exec executor
	var sent, ends int
	run := func(query string, memos ...*sync.Map) []string {
		t.Helper()
		s := &fakeStream{memos: memos, err: live.ErrEnd}
		st := &subscriptionState{stream: s, query: unique.Make(query)}
		next := exec.handler(st, s)
		var got []string
		for {
			resp := st.respond(t.Context(), next, func() { sent++ }, func() { ends++ })
			if resp == nil {
				break
			}
			got = append(got, string(resp.Data))
		}
		if !s.ended {
			t.Error("the stream was not ended")
		}
		return got
	}

	first := run("q1", nil, delivery) // a snapshot, then the delivery
	second := run("q1", delivery, later)
	other := run("q2", delivery)
	if exec.executions != 4 {
		t.Errorf("%d executions, want 4: q1's snapshot, the delivery for q1 and for q2, and the later delivery", exec.executions)
	}
	if first[1] != second[0] {
		t.Errorf("same query and delivery got %s and %s, want the same bytes", first[1], second[0])
	}
	if other[0] == first[1] {
		t.Errorf("another query got the bytes of q1: %s", other[0])
	}
	if sent != 5 || ends != 3 {
		t.Errorf("counted %d events sent and %d ends, want 5 and 3", sent, ends)
	}

	// Errored responses are not shared.
	exec = executor{errors: true}
	fresh := &sync.Map{}
	run("q1", fresh)
	run("q1", fresh)
	if exec.executions != 2 {
		t.Errorf("%d executions of an erroring event, want one per subscriber", exec.executions)
	}
}

// A failing stream is reported once with its code, and the operation ends.
func TestRespondReportsAFailure(t *testing.T) {
	s := &fakeStream{err: live.ErrTooSlow}
	st := &subscriptionState{stream: s}
	var exec executor
	var ends int
	if resp := st.respond(t.Context(), exec.handler(st, s), func() {}, func() { ends++ }); resp != nil {
		t.Fatalf("response %v after the failure, want the end", resp)
	}
	if st.failure != "SUBSCRIBER_TOO_SLOW" || !s.ended || ends != 1 || exec.executions != 0 {
		t.Errorf("failure %q, ended %v, ends %d, executions %d", st.failure, s.ended, ends, exec.executions)
	}
}
