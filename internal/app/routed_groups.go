package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"wagraph/internal/contact"
	"wagraph/internal/supervisor"
)

// With several instances a scrape job (River) or refreshGroups runs on any
// instance, but the account's WhatsApp client lives on its owner.
// routedGroups reads groups through the session where it lives, as
// routedSender sends. The port's own errors (not connected, group not
// found, rate-overlimit) travel in the answer, so the scrape job backs off
// or fails exactly as on one instance.

const (
	routeJoinedGroups  = "joinedGroups"
	routeGroupInfo     = "groupInfo"
	routePhonesForLIDs = "phonesForLIDs"
)

type routedGroups struct {
	local  contact.WhatsAppGroups
	owners owners
}

type groupsRequest struct {
	JID  string   `json:"jid,omitempty"`
	LIDs []string `json:"lids,omitempty"`
}

// groupsAnswer is the owner's answer; PortError names one of the port's
// sentinel errors (portErrors) when the call failed with it.
type groupsAnswer struct {
	Groups    []contact.WAGroup `json:"groups,omitempty"`
	Group     *contact.WAGroup  `json:"group,omitempty"`
	Phones    map[string]string `json:"phones,omitempty"`
	PortError string            `json:"portError,omitempty"`
}

var portErrors = map[string]error{
	"not_connected":   contact.ErrNotConnected,
	"group_not_found": contact.ErrGroupNotFound,
	"rate_limited":    contact.ErrRateLimited,
}

// answer turns a local result into the owner's answer: the port's errors
// by name, any other error as the router carries errors (apperr codes kept).
func answer(a groupsAnswer, err error) (json.RawMessage, error) {
	for name, sentinel := range portErrors {
		if errors.Is(err, sentinel) {
			return json.Marshal(groupsAnswer{PortError: name})
		}
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(a)
}

// newRoutedGroups wraps local, and lets this instance answer the group
// calls routed to it as an account's owner.
func newRoutedGroups(local contact.WhatsAppGroups, o owners, router supervisor.Router) *routedGroups {
	decode := func(req supervisor.RouteRequest) (groupsRequest, error) {
		var in groupsRequest
		if err := json.Unmarshal(req.Body, &in); err != nil {
			return in, fmt.Errorf("decode %s request: %w", req.Kind, err)
		}
		return in, nil
	}
	router.Handle(routeJoinedGroups, func(ctx context.Context, req supervisor.RouteRequest) (json.RawMessage, error) {
		gs, err := local.JoinedGroups(ctx, req.AccountID)
		return answer(groupsAnswer{Groups: gs}, err)
	})
	router.Handle(routeGroupInfo, func(ctx context.Context, req supervisor.RouteRequest) (json.RawMessage, error) {
		in, err := decode(req)
		if err != nil {
			return nil, err
		}
		g, err := local.GroupInfo(ctx, req.AccountID, in.JID)
		return answer(groupsAnswer{Group: g}, err)
	})
	router.Handle(routePhonesForLIDs, func(ctx context.Context, req supervisor.RouteRequest) (json.RawMessage, error) {
		in, err := decode(req)
		if err != nil {
			return nil, err
		}
		phones, err := local.PhonesForLIDs(ctx, req.AccountID, in.LIDs)
		return answer(groupsAnswer{Phones: phones}, err)
	})
	return &routedGroups{local: local, owners: o}
}

// call runs kind on the account's owner; here reports that the owner is
// this instance (nothing was sent).
func (r *routedGroups) call(ctx context.Context, kind, accountID string, in groupsRequest) (groupsAnswer, bool, error) {
	var out groupsAnswer
	here, err := callOwner(ctx, r.owners, kind, accountID, in, &out)
	if here || err != nil {
		return out, here, err
	}
	if out.PortError != "" {
		if sentinel, ok := portErrors[out.PortError]; ok {
			return out, false, sentinel
		}
		return out, false, fmt.Errorf("the owner of account %s answered %s with an unknown error %q", accountID, kind, out.PortError)
	}
	return out, false, nil
}

// JoinedGroups implements contact.WhatsAppGroups.
func (r *routedGroups) JoinedGroups(ctx context.Context, accountID string) ([]contact.WAGroup, error) {
	out, here, err := r.call(ctx, routeJoinedGroups, accountID, groupsRequest{})
	if here {
		return r.local.JoinedGroups(ctx, accountID)
	}
	return out.Groups, err
}

// GroupInfo implements contact.WhatsAppGroups.
func (r *routedGroups) GroupInfo(ctx context.Context, accountID, jid string) (*contact.WAGroup, error) {
	out, here, err := r.call(ctx, routeGroupInfo, accountID, groupsRequest{JID: jid})
	if here {
		return r.local.GroupInfo(ctx, accountID, jid)
	}
	return out.Group, err
}

// PhonesForLIDs implements contact.WhatsAppGroups.
func (r *routedGroups) PhonesForLIDs(ctx context.Context, accountID string, lids []string) (map[string]string, error) {
	out, here, err := r.call(ctx, routePhonesForLIDs, accountID, groupsRequest{LIDs: lids})
	if here {
		return r.local.PhonesForLIDs(ctx, accountID, lids)
	}
	return out.Phones, err
}
