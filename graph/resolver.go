// Package graph is wagraph's GraphQL layer: the gqlgen executor generated from
// schema/, thin resolvers that parse arguments, call one service and map the
// result, the error presenter and the role directive.
package graph

//go:generate go run github.com/99designs/gqlgen generate

import (
	"wagraph/internal/account"
	"wagraph/internal/auth"
	"wagraph/internal/contact"
	"wagraph/internal/jobs"
	"wagraph/internal/message"
	"wagraph/internal/observe"
	"wagraph/internal/sending"
	"wagraph/internal/supervisor"
)

// Resolver holds the services the resolvers call; server.go builds it once.
type Resolver struct {
	Auth      *auth.Service
	Readiness *observe.Health
	// AccountService runs the WhatsApp account lifecycle. (Not "Account":
	// gqlgen generates Resolver.Account() for the Account type's resolvers.)
	AccountService *account.Service
	// Supervisor runs the accounts' live sessions: the mutations that start,
	// stop or drop one go to it.
	Supervisor *supervisor.Supervisor
	// JobService runs background jobs (the operators' jobs query and
	// mutations). (Not "Jobs": that is the query's resolver method.)
	JobService *jobs.Service
	// ContactService is the contact base: contacts, personas, CSV import.
	ContactService *contact.Service
	// Importer runs job-backed CSV imports (importContactsCsv,
	// importProgress).
	Importer *contact.Importer
	// GroupService holds the accounts' groups and scrapes them.
	GroupService *contact.GroupService
	// Sending holds the accounts' send limits (setRateLimits,
	// rateLimitStatus).
	Sending *sending.Policy
	// MessageService sends messages and runs the send queue and batches.
	MessageService *message.Service
	// QRImages renders QR codes as PNG data URLs; NewHandler provides one
	// when it is nil.
	QRImages *QRImages
}
