// Package contact is the contact base: deduplicated contacts (the admin
// app's mkt_wap_contacts table), where each came from (provenance), and
// personas, the audience segments contacts are linked to. It also reads and
// writes contacts as CSV.
//
// A contact's identity is its phone number in E.164 when known, else its
// LID (WhatsApp's hidden-user id, …@lid). Every write goes through
// Service.Upsert, which finds the contact by either, creates it when there
// is none, and merges a LID-only contact into the phone-number contact as
// soon as an observation carries both (Service.LinkLID): provenance and
// persona links move, names and first/last seen are combined, in one
// transaction. Scraping and imports feed observations in; the package runs
// nothing by itself.
package contact

import (
	"time"
)

// Contact is one person in the contact base.
type Contact struct {
	ID string
	// Phone is the number in E.164 (+4915123456789); empty while only the
	// LID is known.
	Phone string
	// LID is the WhatsApp hidden-user id (digits@lid); empty when unknown.
	LID          string
	PushName     string
	FullName     string
	BusinessName string
	FirstSeenAt  time.Time
	LastSeenAt   time.Time
	OptedOut     bool
	OptedOutAt   time.Time
	// Attributes are free-form key/value pairs (from imports or the API).
	Attributes map[string]string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// SourceKind says how a contact reached the base.
type SourceKind string

const (
	// SourceGroup: a member of a WhatsApp group one of the accounts is in.
	SourceGroup SourceKind = "GROUP"
	// SourceImport: a row of an import.
	SourceImport SourceKind = "IMPORT"
	// SourceManual: created or linked through the API by a person.
	SourceManual SourceKind = "MANUAL"
	// SourceWhatsApp: learnt from WhatsApp itself (a LID↔number mapping).
	SourceWhatsApp SourceKind = "WHATSAPP"
)

// SourceKinds lists every kind.
var SourceKinds = []SourceKind{SourceGroup, SourceImport, SourceManual, SourceWhatsApp}

// Valid reports whether k is a known kind.
func (k SourceKind) Valid() bool {
	for _, s := range SourceKinds {
		if k == s {
			return true
		}
	}
	return false
}

// Source is one place a contact came from. Parts that do not apply are
// empty (an import has no group).
type Source struct {
	Kind      SourceKind
	AccountID string
	GroupJID  string
	ImportID  string
	// FirstSeenAt and LastSeenAt are when the contact was first and last
	// seen at this source.
	FirstSeenAt time.Time
	LastSeenAt  time.Time
}

// Persona is an audience segment: a named set of contacts.
type Persona struct {
	ID           string
	Name         string
	Description  string
	ContactCount int
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Outcome is what an upsert did to the contact base.
type Outcome string

const (
	Created   Outcome = "CREATED"
	Updated   Outcome = "UPDATED"
	Unchanged Outcome = "UNCHANGED"
	// Merged: a LID-only contact was merged into the phone-number contact
	// (and the result possibly updated).
	Merged Outcome = "MERGED"
)

// Filter selects contacts. Zero fields do not filter.
type Filter struct {
	PersonaID string
	// AccountID, GroupJID and Source select by provenance; given together
	// they must hold for the same source (a member of that group of that
	// account).
	AccountID string
	GroupJID  string
	Source    SourceKind
	// Search matches names (push, full, business; ignoring case) or, when it
	// is written like a number, the phone number's digits.
	Search   string
	HasPhone *bool
	OptedOut *bool
}

// Selection names contacts for a bulk operation: by ids, or by a filter.
// Exactly one of the two is given.
type Selection struct {
	IDs    []string
	Filter *Filter
}
