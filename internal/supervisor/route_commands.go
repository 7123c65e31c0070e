package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"wagraph/internal/account"
	"wagraph/internal/apperr"
)

// The commands that need an account's live client, by the kind they are
// routed as. Each runs on the instance that owns the account (onOwner).
const (
	routeStartActivation  = "startActivation"
	routeReset            = "reset"
	routeReconnect        = "reconnect"
	routeLogout           = "logout"
	routeDelete           = "delete"
	routeExpireActivation = "expireActivation"
	routeLiftBan          = "liftBan"
)

// routeBody is what a routed command carries besides the account id.
type routeBody struct {
	Activation *account.StartActivationInput `json:"activation,omitempty"`
}

// ownerCommand is a command as its owner runs it: ctx carries the lease
// epoch the owner holds, so what it writes is fenced.
type ownerCommand func(ctx context.Context, id string, body routeBody) (*account.Account, error)

func (s *Supervisor) ownerCommands() map[string]ownerCommand {
	return map[string]ownerCommand{
		routeStartActivation: func(ctx context.Context, id string, b routeBody) (*account.Account, error) {
			if b.Activation == nil {
				return nil, errors.New("startActivation without its input")
			}
			in := *b.Activation
			in.AccountID = id
			return s.startActivation(ctx, in)
		},
		routeReset: func(ctx context.Context, id string, _ routeBody) (*account.Account, error) { return s.reset(ctx, id) },
		routeReconnect: func(ctx context.Context, id string, _ routeBody) (*account.Account, error) {
			return s.reconnect(ctx, id)
		},
		routeLogout: func(ctx context.Context, id string, _ routeBody) (*account.Account, error) { return s.logout(ctx, id) },
		routeDelete: func(ctx context.Context, id string, _ routeBody) (*account.Account, error) { return s.delete(ctx, id) },
		routeExpireActivation: func(ctx context.Context, id string, _ routeBody) (*account.Account, error) {
			return nil, s.expireActivation(ctx, id)
		},
		routeLiftBan: func(ctx context.Context, id string, _ routeBody) (*account.Account, error) {
			return nil, s.liftBan(ctx, id)
		},
	}
}

// registerRoutes lets other instances run the commands here.
func (s *Supervisor) registerRoutes() {
	for kind, cmd := range s.commands {
		s.lease.opts.Router.Handle(kind, func(ctx context.Context, req RouteRequest) (json.RawMessage, error) {
			var b routeBody
			if len(req.Body) > 0 {
				if err := json.Unmarshal(req.Body, &b); err != nil {
					return nil, fmt.Errorf("decode %s request: %w", kind, err)
				}
			}
			a, err := s.runOwned(ctx, req.AccountID, b, cmd)
			if err != nil {
				return nil, err
			}
			return json.Marshal(a)
		})
	}
}

// onOwner runs the command kind on the instance that owns the account:
// here with one instance, or when this one holds (or now takes) the lease;
// else on the owner, through the router. The caller gets the owner's
// result and coded errors either way.
func (s *Supervisor) onOwner(ctx context.Context, kind, id string, body routeBody) (*account.Account, error) {
	cmd := s.commands[kind]
	if s.lease == nil {
		return cmd(ctx, id, body)
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var owner string
		if owner, err = s.ownerFor(ctx, id); err != nil {
			return nil, err
		}
		var a *account.Account
		if owner == s.lease.self {
			a, err = s.runOwned(ctx, id, body, cmd)
		} else {
			a, err = s.callOwner(ctx, owner, kind, id, body)
		}
		var moved *notOwnerError
		if !errors.As(err, &moved) {
			return a, err
		}
	}
	return nil, apperr.Wrap(err, apperr.Unavailable, "the account is moving between instances").
		WithSuggestion("Try again in a few seconds.")
}

// runOwned runs cmd here under the account's lease, taking the lease when
// nobody holds it; a write refused as stale means it moved meanwhile.
func (s *Supervisor) runOwned(ctx context.Context, id string, body routeBody, cmd ownerCommand) (*account.Account, error) {
	epoch, err := s.acquire(ctx, id)
	if err != nil {
		return nil, err
	}
	a, err := cmd(account.WithEpoch(ctx, epoch), id, body)
	if errors.Is(err, account.ErrStaleEpoch) {
		s.loseLease(id, epoch, "a command's write was refused: the lease epoch is stale")
		return nil, &notOwnerError{accountID: id}
	}
	return a, err
}

// callOwner sends the command to its owner and waits for the answer, at
// most RouteTimeout.
func (s *Supervisor) callOwner(ctx context.Context, owner, kind, id string, body routeBody) (*account.Account, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	res, err := s.CallOwner(ctx, owner, RouteRequest{Kind: kind, AccountID: id, Body: raw})
	if err != nil {
		return nil, err
	}
	var a *account.Account
	if len(res) > 0 {
		if err := json.Unmarshal(res, &a); err != nil {
			return nil, fmt.Errorf("decode the answer of instance %s: %w", owner, err)
		}
	}
	return a, nil
}

// CallOwner sends req to instance (the account's owner, see Owner) and
// waits at most RouteTimeout for its answer, counting the outcome and
// latency in the routing metrics.
func (s *Supervisor) CallOwner(ctx context.Context, instance string, req RouteRequest) (json.RawMessage, error) {
	l := s.lease
	if l == nil {
		return nil, errors.New("supervisor: no other instances to route to")
	}
	ctx, cancel := context.WithTimeout(ctx, l.opts.RouteTimeout)
	defer cancel()
	start := time.Now()
	res, err := l.opts.Router.Call(ctx, instance, req)
	outcome := "ok"
	switch {
	case err == nil:
	case ctx.Err() != nil:
		outcome = "timeout"
	case isCallFailure(err):
		outcome = "failed"
	default:
		outcome = "error"
	}
	l.opts.Metrics.Routed(req.Kind, outcome, time.Since(start))
	return res, err
}

// isCallFailure tells an error of the hop itself (the request could not be
// sent) from one the owner answered with.
func isCallFailure(err error) bool {
	e, ok := apperr.As(err)
	return ok && e.Code == apperr.Unavailable && e.Err != nil
}

// Owner names the instance that runs the account's session and whether it
// is this one; with one instance it is always this one (""). Features that
// need the live client (sending) check it, and send what must run on the
// owner through Router with a kind of their own.
func (s *Supervisor) Owner(ctx context.Context, id string) (instance string, here bool, err error) {
	if s.lease == nil {
		return "", true, nil
	}
	owner, err := s.ownerFor(ctx, id)
	if err != nil {
		return "", false, err
	}
	return owner, owner == s.lease.self, nil
}

// Router carries requests to the other instances; nil with one instance.
func (s *Supervisor) Router() Router {
	if s.lease == nil {
		return nil
	}
	return s.lease.opts.Router
}
