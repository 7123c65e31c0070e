package graph_test

// Contacts and personas through the real GraphQL handler: import a CSV as
// text, page through contacts, segment them by filter, and the roles: VIEWER
// reads, OPERATOR changes, ADMIN deletes.

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/99designs/gqlgen/client"
	"github.com/rs/zerolog"

	"wagraph/graph"
	"wagraph/internal/apperr"
	"wagraph/internal/apptest"
	"wagraph/internal/auth"
	"wagraph/internal/contact"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

func contactAPI(t *testing.T, db *store.DB) func(role auth.Role) *client.Client {
	t.Helper()
	svc := contact.New(db, contact.Options{Logger: zerolog.Nop()})
	h := graph.NewHandler(&graph.Resolver{ContactService: svc}, graph.HandlerOptions{
		ComplexityLimit: 1000, ParserTokenLimit: 10000, Log: zerolog.Nop(),
	})
	withRole := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if role := r.Header.Get("X-Test-Role"); role != "" {
			r = r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{Role: auth.Role(role)}))
		}
		h.ServeHTTP(w, r)
	})
	return func(role auth.Role) *client.Client {
		return client.New(withRole, client.AddHeader("X-Test-Role", string(role)))
	}
}

const contactsCSV = "phone;name;lid;city\n" +
	"+49 151 23456781;Ana;;Berlin\n" +
	"+49 151 23456782;Bruno;;Berlin\n" +
	"+49 151 23456783;Cris;;Porto\n" +
	";Dora;4242@lid;Porto\n" +
	"nope;Eve;;\n"

func TestContactsOverGraphQL(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		as := contactAPI(t, db)
		viewer, op, admin := as(auth.Viewer), as(auth.Operator), as(auth.Admin)

		// VIEWER cannot write: not import, not personas, not opt-outs.
		for _, m := range []string{
			`importContactsCsvText(input: {csv: "phone\n+4915123456789"}) { report { created } }`,
			`createPersona(input: {name: "x"}) { persona { id } }`,
			`setContactsOptOut(input: {filter: {}, optedOut: true}) { updatedCount }`,
			`updateContact(input: {contactId: "x", fullName: "y"}) { contact { id } }`,
			`addContactsToPersona(input: {personaId: "x", contactIds: ["y"]}) { changedCount }`,
		} {
			if e := apptest.Post(t, viewer, "mutation { "+m+" }").Only(t); e.Code() != string(apperr.Forbidden) {
				t.Fatalf("VIEWER %s: %s %q", m, e.Code(), e.Message)
			}
		}

		data := apptest.Post(t, op, `mutation($csv: String!) { importContactsCsvText(input: {csv: $csv}) { report {
			importId rowsRead created updated merged duplicates invalid errors { line reason } errorsOmitted } } }`,
			client.Var("csv", contactsCSV)).NoErrors(t)
		rep := apptest.Path(data, "importContactsCsvText", "report")
		errs, _ := apptest.Path(rep, "errors").([]any)
		if apptest.Path(rep, "created") != float64(4) || apptest.Path(rep, "invalid") != float64(1) || len(errs) != 1 || apptest.Path(errs[0], "line") != float64(6) {
			t.Fatalf("report = %v", rep)
		}

		// Pages of two, newest first, with totalCount.
		q := `query($after: String, $filter: ContactFilter) { contacts(first: 2, after: $after, filter: $filter, orderBy: {field: CREATED_AT, direction: DESC}) {
			totalCount edges { cursor node { id phoneNumber lid fullName attributes { key value } sources { kind importId } personas { name } } }
			pageInfo { hasNextPage endCursor } } }`
		var names []any
		var after any
		for range 3 {
			data = apptest.Post(t, viewer, q, client.Var("after", after)).NoErrors(t)
			conn := apptest.Path(data, "contacts")
			if apptest.Path(conn, "totalCount") != float64(4) {
				t.Fatalf("contacts = %v", conn)
			}
			for _, e := range apptest.Path(conn, "edges").([]any) {
				names = append(names, apptest.Path(e, "node", "fullName"))
			}
			if apptest.Path(conn, "pageInfo", "hasNextPage") != true {
				break
			}
			after = apptest.Path(conn, "pageInfo", "endCursor")
		}
		if fmt.Sprint(names) != "[Dora Cris Bruno Ana]" {
			t.Fatalf("names over pages: %v", names)
		}
		if e := apptest.Post(t, viewer, `{ contacts(after: "bm9wZQ") { totalCount } }`).Only(t); e.Code() != string(apperr.InvalidInput) {
			t.Fatalf("bad cursor: %s", e.Code())
		}

		// A persona filled by filter, in one mutation.
		data = apptest.Post(t, op, `mutation { createPersona(input: {name: "Berlin", description: "Berliners"}) { persona { id name contactCount } } }`).NoErrors(t)
		pid := apptest.Path(data, "createPersona", "persona", "id").(string)
		data = apptest.Post(t, op, `mutation($id: ID!) { addContactsToPersona(input: {personaId: $id, filter: {search: "4915123456"}}) { changedCount persona { contactCount } } }`,
			client.Var("id", pid)).NoErrors(t)
		if apptest.Path(data, "addContactsToPersona", "changedCount") != float64(3) {
			t.Fatalf("add by filter = %v", data)
		}
		data = apptest.Post(t, viewer, `query($f: ContactFilter) { contacts(filter: $f) { totalCount edges { node { id personas { name } } } } }`,
			client.Var("f", map[string]any{"personaId": pid, "hasPhone": true})).NoErrors(t)
		if apptest.Path(data, "contacts", "totalCount") != float64(3) {
			t.Fatalf("persona filter = %v", data)
		}
		first := apptest.Path(data, "contacts", "edges").([]any)[0]
		cid := apptest.Path(first, "node", "id").(string)
		data = apptest.Post(t, viewer, `{ personas { totalCount edges { node { name description contactCount } } } }`).NoErrors(t)
		if apptest.Path(apptest.Path(data, "personas", "edges").([]any)[0], "node", "contactCount") != float64(3) {
			t.Fatalf("personas = %v", data)
		}

		// OPERATOR updates a contact; only ADMIN deletes.
		data = apptest.Post(t, op, `mutation($id: ID!) { updateContact(input: {contactId: $id, fullName: "Ana Souza", attributes: [{key: "tier", value: "gold"}], optedOut: true}) {
			contact { fullName optedOut optedOutAt attributes { key value } } } }`, client.Var("id", cid)).NoErrors(t)
		c := apptest.Path(data, "updateContact", "contact")
		if apptest.Path(c, "fullName") != "Ana Souza" || apptest.Path(c, "optedOut") != true || fmt.Sprint(apptest.Path(c, "attributes")) != "[map[key:tier value:gold]]" {
			t.Fatalf("updateContact = %v", c)
		}
		del := `mutation($id: ID!) { deleteContacts(input: {contactIds: [$id]}) { deletedCount } }`
		if e := apptest.Post(t, op, del, client.Var("id", cid)).Only(t); e.Code() != string(apperr.Forbidden) {
			t.Fatalf("OPERATOR delete: %s", e.Code())
		}
		if e := apptest.Post(t, op, `mutation($id: ID!) { deletePersona(input: {personaId: $id}) { deletedPersonaId } }`, client.Var("id", pid)).Only(t); e.Code() != string(apperr.Forbidden) {
			t.Fatalf("OPERATOR delete persona: %s", e.Code())
		}
		data = apptest.Post(t, admin, del, client.Var("id", cid)).NoErrors(t)
		if apptest.Path(data, "deleteContacts", "deletedCount") != float64(1) {
			t.Fatalf("deleteContacts = %v", data)
		}
		if e := apptest.Post(t, viewer, `query($id: ID!) { contact(id: $id) { id } }`, client.Var("id", cid)).Only(t); e.Code() != string(apperr.NotFound) {
			t.Fatalf("deleted contact: %s", e.Code())
		}
		// Opt-out by filter, rename, remove by filter, then ADMIN deletes the persona.
		data = apptest.Post(t, op, `mutation { setContactsOptOut(input: {filter: {search: "Porto"}, optedOut: true}) { updatedCount } }`).NoErrors(t)
		if apptest.Path(data, "setContactsOptOut", "updatedCount") != float64(0) { // search matches names, not attributes
			t.Fatalf("setContactsOptOut = %v", data)
		}
		data = apptest.Post(t, op, `mutation { setContactsOptOut(input: {filter: {hasPhone: false}, optedOut: true}) { updatedCount } }`).NoErrors(t)
		if apptest.Path(data, "setContactsOptOut", "updatedCount") != float64(1) {
			t.Fatalf("setContactsOptOut = %v", data)
		}
		data = apptest.Post(t, op, `mutation($id: ID!) { updatePersona(input: {personaId: $id, name: "Berliners"}) { persona { name description } } }`, client.Var("id", pid)).NoErrors(t)
		if apptest.Path(data, "updatePersona", "persona", "name") != "Berliners" || apptest.Path(data, "updatePersona", "persona", "description") != "Berliners" {
			t.Fatalf("updatePersona = %v", data)
		}
		data = apptest.Post(t, op, `mutation($id: ID!) { removeContactsFromPersona(input: {personaId: $id, filter: {search: "Bruno"}}) { changedCount persona { contactCount } } }`,
			client.Var("id", pid)).NoErrors(t)
		if apptest.Path(data, "removeContactsFromPersona", "changedCount") != float64(1) || apptest.Path(data, "removeContactsFromPersona", "persona", "contactCount") != float64(1) {
			t.Fatalf("removeContactsFromPersona = %v", data)
		}
		data = apptest.Post(t, viewer, `query($id: ID!) { persona(id: $id) { name contactCount } }`, client.Var("id", pid)).NoErrors(t)
		if apptest.Path(data, "persona", "contactCount") != float64(1) {
			t.Fatalf("persona = %v", data)
		}
		data = apptest.Post(t, admin, `mutation($id: ID!) { deletePersona(input: {personaId: $id}) { deletedPersonaId } }`, client.Var("id", pid)).NoErrors(t)
		if apptest.Path(data, "deletePersona", "deletedPersonaId") != pid {
			t.Fatalf("deletePersona = %v", data)
		}
		data = apptest.Post(t, viewer, `{ personas(first: 1, after: null, search: "berl") { totalCount } }`).NoErrors(t)
		if apptest.Path(data, "personas", "totalCount") != float64(0) {
			t.Fatalf("personas after delete = %v", data)
		}

		// A list import: item positions instead of lines. Ana was deleted
		// above, so she is new again; Dora's LID gets its number.
		data = apptest.Post(t, op, `mutation { importContacts(input: {defaultRegion: "DE", contacts: [
			{phoneNumber: "0151 23456781", pushName: "Ana P", attributes: [{key: "vip", value: "yes"}]},
			{lid: "4242@lid", phoneNumber: "+49 151 23456799"},
			{fullName: "nobody"},
			{phoneNumber: "+49 151 23456788", optedOut: true}]}) {
			report { created updated merged invalid errors { line reason } } } }`).NoErrors(t)
		rep = apptest.Path(data, "importContacts", "report")
		errs, _ = apptest.Path(rep, "errors").([]any)
		if apptest.Path(rep, "created") != float64(2) || apptest.Path(rep, "updated") != float64(1) || apptest.Path(rep, "invalid") != float64(1) ||
			len(errs) != 1 || apptest.Path(errs[0], "line") != float64(3) {
			t.Fatalf("importContacts report = %v", rep)
		}
		data = apptest.Post(t, viewer, `{ contacts(filter: {search: "dora"}) { edges { node { phoneNumber lid } } } }`).NoErrors(t)
		if dora := apptest.Path(data, "contacts", "edges").([]any); len(dora) != 1 || apptest.Path(dora[0], "node", "phoneNumber") != "+4915123456799" {
			t.Fatalf("dora = %v", data)
		}
		if e := apptest.Post(t, viewer, `mutation { importContacts(input: {contacts: []}) { report { created } } }`).Only(t); e.Code() != string(apperr.Forbidden) {
			t.Fatalf("VIEWER importContacts: %s", e.Code())
		}

		// A file without a phone column: a clear error naming its columns.
		e := apptest.Post(t, op, `mutation { importContactsCsvText(input: {csv: "name,city\nAna,Berlin"}) { report { created } } }`).Only(t)
		if e.Code() != string(apperr.InvalidInput) || e.Suggestion() == "" || e.Message != `the header has no phone number column; it has "name", "city"` {
			t.Fatalf("no phone column: %s %q", e.Code(), e.Message)
		}
	})
}
