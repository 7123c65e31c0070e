// Package graph is wagraph's GraphQL layer: the gqlgen executor generated from
// schema/, thin resolvers that parse arguments, call one service and map the
// result, the error presenter and the role directive.
package graph

//go:generate go run github.com/99designs/gqlgen generate

import (
	"wagraph/internal/account"
	"wagraph/internal/auth"
	"wagraph/internal/jobs"
	"wagraph/internal/observe"
	"wagraph/internal/pubsub"
)

// Resolver holds the services the resolvers call; server.go builds it once.
type Resolver struct {
	Auth      *auth.Service
	Readiness *observe.Health
	// AccountService runs the WhatsApp account lifecycle. (Not "Account":
	// gqlgen generates Resolver.Account() for the Account type's resolvers.)
	AccountService *account.Service
	// JobService runs background jobs (the operators' jobs query and
	// mutations). (Not "Jobs": that is the query's resolver method.)
	JobService *jobs.Service
	// Bus carries the events that subscriptions stream.
	Bus pubsub.Bus
	// QRImages renders QR codes as PNG data URLs; NewHandler provides one
	// when it is nil.
	QRImages *account.QRImages
}
