package graph

import (
	"time"

	"wagraph/graph/model"
	"wagraph/internal/apperr"
	"wagraph/internal/contact"
	"wagraph/internal/message"
)

func messageModel(m *message.Message) *model.Message {
	out := &model.Message{
		ID: m.ID, AccountID: m.AccountID, BatchID: optString(m.BatchID), To: m.To, ContactID: optString(m.ContactID),
		Text: m.Text, Status: model.MessageStatus(m.Status), WaMessageID: optString(m.WAMessageID), SentAt: optTime(m.SentAt),
		IdempotencyKey: optString(m.IdempotencyKey), Attempts: m.Attempts, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
	}
	if e := m.Error; e != nil {
		out.Error = &model.MessageError{Code: e.Code, Message: e.Message, Suggestion: e.Suggestion}
	}
	if w := m.Wait; w != nil {
		secs := int(time.Until(w.Until).Round(time.Second).Seconds())
		out.Wait = &model.MessageWait{Code: w.Code, Until: w.Until, RetryAfterSeconds: max(secs, 0)}
	}
	return out
}

func messageConnection(page *message.Page, after string) *model.MessageConnection {
	out := &model.MessageConnection{Edges: []*model.MessageEdge{}, TotalCount: page.TotalCount}
	for _, m := range page.Messages {
		out.Edges = append(out.Edges, &model.MessageEdge{Cursor: message.Cursor(m.ID), Node: messageModel(m)})
	}
	out.PageInfo = &model.PageInfo{HasNextPage: page.HasNextPage, HasPreviousPage: after != ""}
	if n := len(out.Edges); n > 0 {
		out.PageInfo.StartCursor, out.PageInfo.EndCursor = &out.Edges[0].Cursor, &out.Edges[n-1].Cursor
	}
	return out
}

func messageFilter(f *model.MessageFilter) message.Filter {
	if f == nil {
		return message.Filter{}
	}
	out := message.Filter{AccountID: deref(f.AccountID), BatchID: deref(f.BatchID)}
	if f.Status != nil {
		out.Status = message.Status(*f.Status)
	}
	return out
}

func batchModel(b *message.Batch) *model.Batch {
	return &model.Batch{
		ID: b.ID, AccountID: b.AccountID, Text: b.Text, StartAt: b.StartAt, JitterSeconds: b.JitterSeconds,
		Total: b.Total, SkippedOptedOut: b.SkippedOptedOut, SkippedNoPhone: b.SkippedNoPhone,
		Sent: b.Sent, Failed: b.Failed, Canceled: b.Canceled, Pending: b.Pending(), Done: b.Done(),
		Version: int(b.Version), CreatedAt: b.CreatedAt, CanceledAt: optTime(b.CanceledAt),
	}
}

func batchConnection(page *message.BatchPage, after string) *model.BatchConnection {
	out := &model.BatchConnection{Edges: []*model.BatchEdge{}, TotalCount: page.TotalCount}
	for _, b := range page.Batches {
		out.Edges = append(out.Edges, &model.BatchEdge{Cursor: message.Cursor(b.ID), Node: batchModel(b)})
	}
	out.PageInfo = &model.PageInfo{HasNextPage: page.HasNextPage, HasPreviousPage: after != ""}
	if n := len(out.Edges); n > 0 {
		out.PageInfo.StartCursor, out.PageInfo.EndCursor = &out.Edges[0].Cursor, &out.Edges[n-1].Cursor
	}
	return out
}

// batchRecipients maps "contact ids, a persona or a filter"; giving more
// than one is INVALID_INPUT (from the contact base's selection check, or
// here for the persona).
func batchRecipients(in *model.BatchRecipientsInput) (contact.Selection, error) {
	given := 0
	if len(in.ContactIds) > 0 {
		given++
	}
	if in.PersonaID != nil {
		given++
	}
	if in.Filter != nil {
		given++
	}
	if given != 1 {
		return contact.Selection{}, invalidRecipients()
	}
	if in.PersonaID != nil {
		return contact.Selection{Filter: &contact.Filter{PersonaID: *in.PersonaID}}, nil
	}
	return contactSelection(in.ContactIds, in.Filter), nil
}

func batchProgressEvent(p message.BatchProgress, _ time.Time) *model.BatchProgressEvent {
	return &model.BatchProgressEvent{Batch: batchModel(p.Batch), Snapshot: p.Snapshot}
}

func invalidRecipients() error {
	return apperr.Invalid("input.recipients", "give exactly one of contactIds, personaId or filter",
		"Select the recipients one way: a list of contact ids, a persona, or a contacts filter.")
}
