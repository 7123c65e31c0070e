package graph

import (
	"sort"

	"wagraph/graph/model"
	"wagraph/internal/contact"
)

// contactModel maps a contact to its GraphQL shape.
func contactModel(c *contact.Contact) *model.Contact {
	out := &model.Contact{
		ID:           c.ID,
		PhoneNumber:  optString(c.Phone),
		Lid:          optString(c.LID),
		PushName:     optString(c.PushName),
		FullName:     optString(c.FullName),
		BusinessName: optString(c.BusinessName),
		FirstSeenAt:  c.FirstSeenAt,
		LastSeenAt:   c.LastSeenAt,
		OptedOut:     c.OptedOut,
		OptedOutAt:   optTime(c.OptedOutAt),
		Attributes:   []*model.ContactAttribute{},
		CreatedAt:    c.CreatedAt,
		UpdatedAt:    c.UpdatedAt,
	}
	for k, v := range c.Attributes {
		out.Attributes = append(out.Attributes, &model.ContactAttribute{Key: k, Value: v})
	}
	sort.Slice(out.Attributes, func(i, j int) bool { return out.Attributes[i].Key < out.Attributes[j].Key })
	return out
}

func contactSources(srcs []contact.Source) []*model.ContactSource {
	out := make([]*model.ContactSource, 0, len(srcs))
	for _, s := range srcs {
		out = append(out, &model.ContactSource{
			Kind: model.ContactSourceKind(s.Kind), AccountID: optString(s.AccountID), GroupJid: optString(s.GroupJID),
			ImportID: optString(s.ImportID), FirstSeenAt: s.FirstSeenAt, LastSeenAt: s.LastSeenAt,
		})
	}
	return out
}

func personaModel(p *contact.Persona) *model.Persona {
	return &model.Persona{ID: p.ID, Name: p.Name, Description: p.Description, ContactCount: p.ContactCount, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

func personaModels(ps []*contact.Persona) []*model.Persona {
	out := make([]*model.Persona, 0, len(ps))
	for _, p := range ps {
		out = append(out, personaModel(p))
	}
	return out
}

// contactFilter maps the GraphQL filter; nil selects every contact.
func contactFilter(f *model.ContactFilter) contact.Filter {
	if f == nil {
		return contact.Filter{}
	}
	out := contact.Filter{
		PersonaID: deref(f.PersonaID), AccountID: deref(f.AccountID), GroupJID: deref(f.GroupJid),
		Search: deref(f.Search), HasPhone: f.HasPhone, OptedOut: f.OptedOut,
	}
	if f.Source != nil {
		out.Source = contact.SourceKind(*f.Source)
	}
	return out
}

// contactSelection maps "ids or a filter".
func contactSelection(ids []string, f *model.ContactFilter) contact.Selection {
	sel := contact.Selection{IDs: ids}
	if f != nil {
		filter := contactFilter(f)
		sel.Filter = &filter
	}
	return sel
}

func contactOrder(o *model.ContactOrder) contact.Order {
	if o == nil {
		return contact.Order{}
	}
	return contact.Order{Field: contact.OrderField(o.Field), Desc: o.Direction == model.SortDirectionDesc}
}

func attributeMap(in []*model.ContactAttributeInput) map[string]string {
	if in == nil {
		return nil
	}
	m := make(map[string]string, len(in))
	for _, a := range in {
		m[a.Key] = a.Value
	}
	return m
}

// afterContact reads a contacts cursor: the position to list after.
func afterContact(cursor *string) (string, error) {
	if cursor == nil || *cursor == "" {
		return "", nil
	}
	return decodeCursor(cursorContact, *cursor)
}

func contactConnection(page *contact.Page, after string) *model.ContactConnection {
	out := &model.ContactConnection{Edges: []*model.ContactEdge{}, TotalCount: page.TotalCount}
	for i, c := range page.Contacts {
		out.Edges = append(out.Edges, &model.ContactEdge{Cursor: encodeCursor(cursorContact, page.Positions[i]), Node: contactModel(c)})
	}
	out.PageInfo = &model.PageInfo{HasNextPage: page.HasNextPage, HasPreviousPage: after != ""}
	if n := len(out.Edges); n > 0 {
		out.PageInfo.StartCursor, out.PageInfo.EndCursor = &out.Edges[0].Cursor, &out.Edges[n-1].Cursor
	}
	return out
}

// afterPersona reads a personas cursor: the persona id to list after.
func afterPersona(cursor *string) (string, error) {
	if cursor == nil || *cursor == "" {
		return "", nil
	}
	return decodeCursor(cursorPersona, *cursor)
}

func personaConnection(page *contact.PersonaPage, after string) *model.PersonaConnection {
	out := &model.PersonaConnection{Edges: []*model.PersonaEdge{}, TotalCount: page.TotalCount}
	for _, p := range page.Personas {
		out.Edges = append(out.Edges, &model.PersonaEdge{Cursor: encodeCursor(cursorPersona, p.ID), Node: personaModel(p)})
	}
	out.PageInfo = &model.PageInfo{HasNextPage: page.HasNextPage, HasPreviousPage: after != ""}
	if n := len(out.Edges); n > 0 {
		out.PageInfo.StartCursor, out.PageInfo.EndCursor = &out.Edges[0].Cursor, &out.Edges[n-1].Cursor
	}
	return out
}

// contactObservations maps importContacts' list to what the service imports.
func contactObservations(in []*model.ContactInput) []contact.Observation {
	out := make([]contact.Observation, len(in))
	for i, c := range in {
		out[i] = contact.Observation{
			Phone: deref(c.PhoneNumber), LID: deref(c.Lid), FullName: deref(c.FullName), PushName: deref(c.PushName),
			BusinessName: deref(c.BusinessName), Attributes: attributeMap(c.Attributes), OptOut: c.OptedOut != nil && *c.OptedOut,
		}
	}
	return out
}

func importReport(r *contact.ImportReport) *model.ContactImportReport {
	out := &model.ContactImportReport{
		ImportID: r.ImportID, DryRun: r.DryRun, RowsRead: r.RowsRead, Created: r.Created, Updated: r.Updated,
		Unchanged: r.Unchanged, Merged: r.Merged, Duplicates: r.Duplicates, Invalid: r.Invalid,
		Errors: []*model.ContactImportRowError{}, ErrorsOmitted: r.ErrorsOmitted,
	}
	for _, e := range r.Errors {
		out.Errors = append(out.Errors, &model.ContactImportRowError{Line: e.Line, Reason: e.Reason})
	}
	return out
}
