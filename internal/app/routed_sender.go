package app

import (
	"context"
	"encoding/json"
	"fmt"

	"wagraph/internal/message"
	"wagraph/internal/supervisor"
)

// With several instances an account's live session runs on the instance
// holding its lease, but the send worker (a River job) runs wherever River
// hands it out. routedSender sends through the session where it lives:
// here, or on the owner through the supervisor's router (kinds "send" and
// "isOnWhatsApp"), with the owner's errors, WhatsApp's refusal codes
// included. Without Redis (one instance) the sessions are used directly.

const (
	routeSend         = "send"
	routeIsOnWhatsApp = "isOnWhatsApp"
)

// owners is what routedSender needs of the supervisor: who runs an
// account, and a call to it (bounded by ROUTE_TIMEOUT, counted in the
// routing metrics).
type owners interface {
	Owner(ctx context.Context, accountID string) (instance string, here bool, err error)
	CallOwner(ctx context.Context, instance string, req supervisor.RouteRequest) (json.RawMessage, error)
}

type routedSender struct {
	local  message.Sender
	owners owners
}

type sendRequest struct {
	To     string   `json:"to,omitempty"`
	Text   string   `json:"text,omitempty"`
	WAID   string   `json:"waId,omitempty"`
	Phones []string `json:"phones,omitempty"`
}

// newRoutedSender wraps local, and lets this instance answer the requests
// routed to it as an account's owner.
func newRoutedSender(local message.Sender, o owners, router supervisor.Router) *routedSender {
	r := &routedSender{local: local, owners: o}
	router.Handle(routeSend, func(ctx context.Context, req supervisor.RouteRequest) (json.RawMessage, error) {
		var in sendRequest
		if err := json.Unmarshal(req.Body, &in); err != nil {
			return nil, fmt.Errorf("decode send request: %w", err)
		}
		res, err := local.Send(ctx, req.AccountID, in.To, in.Text, in.WAID)
		if err != nil {
			return nil, err
		}
		return json.Marshal(res)
	})
	router.Handle(routeIsOnWhatsApp, func(ctx context.Context, req supervisor.RouteRequest) (json.RawMessage, error) {
		var in sendRequest
		if err := json.Unmarshal(req.Body, &in); err != nil {
			return nil, fmt.Errorf("decode isOnWhatsApp request: %w", err)
		}
		res, err := local.IsOnWhatsApp(ctx, req.AccountID, in.Phones)
		if err != nil {
			return nil, err
		}
		return json.Marshal(res)
	})
	return r
}

// call runs kind on the account's owner and decodes its answer into out;
// here reports that the owner is this instance (nothing was sent).
func (r *routedSender) call(ctx context.Context, kind, accountID string, in sendRequest, out any) (here bool, err error) {
	owner, here, err := r.owners.Owner(ctx, accountID)
	if err != nil || here {
		return here, err
	}
	body, err := json.Marshal(in)
	if err != nil {
		return false, err
	}
	raw, err := r.owners.CallOwner(ctx, owner, supervisor.RouteRequest{Kind: kind, AccountID: accountID, Body: body})
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return false, fmt.Errorf("decode the %s answer of instance %s: %w", kind, owner, err)
	}
	return false, nil
}

// Send implements message.Sender.
func (r *routedSender) Send(ctx context.Context, accountID, to, text, waID string) (message.SentResult, error) {
	var res message.SentResult
	here, err := r.call(ctx, routeSend, accountID, sendRequest{To: to, Text: text, WAID: waID}, &res)
	if here {
		return r.local.Send(ctx, accountID, to, text, waID)
	}
	return res, err
}

// IsOnWhatsApp implements message.Sender.
func (r *routedSender) IsOnWhatsApp(ctx context.Context, accountID string, phones []string) (map[string]bool, error) {
	var res map[string]bool
	here, err := r.call(ctx, routeIsOnWhatsApp, accountID, sendRequest{Phones: phones}, &res)
	if here {
		return r.local.IsOnWhatsApp(ctx, accountID, phones)
	}
	return res, err
}
