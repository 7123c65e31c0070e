package graph

import (
	"strconv"
	"time"

	"wagraph/graph/model"
	"wagraph/internal/contact"
	"wagraph/internal/jobs"
)

// Cursor kinds of the group lists (see cursor.go).
const (
	cursorGroup       = "group:"
	cursorParticipant = "member:"
	cursorScrape      = "scrape:"
)

// afterKind reads a cursor of kind: the position to list after ("" for none).
func afterKind(kind string, cursor *string) (string, error) {
	if cursor == nil || *cursor == "" {
		return "", nil
	}
	return decodeCursor(kind, *cursor)
}

func pageInfo(after string, hasNext bool, first, last *string) *model.PageInfo {
	return &model.PageInfo{HasNextPage: hasNext, HasPreviousPage: after != "", StartCursor: first, EndCursor: last}
}

func groupModel(g *contact.Group) *model.Group {
	addressing := model.GroupAddressingUnknown
	switch g.AddressingMode {
	case "pn":
		addressing = model.GroupAddressingByPhone
	case "lid":
		addressing = model.GroupAddressingByLid
	}
	return &model.Group{
		Jid: g.JID, AccountID: g.AccountID, Name: g.Name, Topic: g.Topic, ParticipantCount: g.ParticipantCount,
		Announce: g.Announce, Community: g.Community, Addressing: addressing, RefreshedAt: g.RefreshedAt,
	}
}

func groupConnection(page *contact.GroupPage, after string) *model.GroupConnection {
	out := &model.GroupConnection{Edges: []*model.GroupEdge{}, TotalCount: page.TotalCount}
	for _, g := range page.Groups {
		out.Edges = append(out.Edges, &model.GroupEdge{Cursor: encodeCursor(cursorGroup, g.JID), Node: groupModel(g)})
	}
	out.PageInfo = pageInfo(after, page.HasNextPage, nil, nil)
	if n := len(out.Edges); n > 0 {
		out.PageInfo.StartCursor, out.PageInfo.EndCursor = &out.Edges[0].Cursor, &out.Edges[n-1].Cursor
	}
	return out
}

func participantModel(p contact.Participant) *model.GroupParticipant {
	role := model.GroupRoleMember
	switch p.Role() {
	case "superadmin":
		role = model.GroupRoleSuperadmin
	case "admin":
		role = model.GroupRoleAdmin
	}
	return &model.GroupParticipant{
		Jid: p.JID, PhoneNumber: optString(p.Phone), Lid: optString(p.LID), DisplayName: p.DisplayName,
		Role: role, IsAdmin: p.Admin || p.SuperAdmin, IsSuperAdmin: p.SuperAdmin,
	}
}

func participantConnection(page *contact.ParticipantPage, after string) *model.GroupParticipantConnection {
	out := &model.GroupParticipantConnection{Edges: []*model.GroupParticipantEdge{}, TotalCount: page.TotalCount}
	for _, p := range page.Participants {
		out.Edges = append(out.Edges, &model.GroupParticipantEdge{Cursor: encodeCursor(cursorParticipant, p.JID), Node: participantModel(p)})
	}
	out.PageInfo = pageInfo(after, page.HasNextPage, nil, nil)
	if n := len(out.Edges); n > 0 {
		out.PageInfo.StartCursor, out.PageInfo.EndCursor = &out.Edges[0].Cursor, &out.Edges[n-1].Cursor
	}
	return out
}

func scrapeModel(j *contact.ScrapeJob) *model.ScrapeJob {
	return &model.ScrapeJob{
		ID: strconv.FormatInt(j.ID, 10), AccountID: j.AccountID, AllGroups: j.AllGroups, PersonaIds: append([]string{}, j.PersonaIDs...),
		State: model.ScrapeState(j.State), GroupsTotal: j.GroupsTotal, GroupsDone: j.GroupsDone, MembersSeen: j.MembersSeen,
		ContactsCreated: j.ContactsCreated, ContactsUpdated: j.ContactsUpdated, ContactsMerged: j.ContactsMerged,
		MembersWithoutPhone: j.MembersWithoutPhone, Errors: j.Errors, LastError: optString(j.LastError), ResumeAt: j.ResumeAt,
		Version: int(j.Version), CreatedAt: j.CreatedAt, StartedAt: j.StartedAt, FinishedAt: j.FinishedAt,
	}
}

// scrapeEvent maps a scrapeProgress event.
func scrapeEvent(j contact.ScrapeJob, _ time.Time) *model.ScrapeJob { return scrapeModel(&j) }

func scrapeConnection(page *contact.ScrapePage, after string) *model.ScrapeJobConnection {
	out := &model.ScrapeJobConnection{Edges: []*model.ScrapeJobEdge{}, TotalCount: page.TotalCount}
	for _, j := range page.Jobs {
		out.Edges = append(out.Edges, &model.ScrapeJobEdge{Cursor: encodeCursor(cursorScrape, strconv.FormatInt(j.ID, 10)), Node: scrapeModel(j)})
	}
	out.PageInfo = pageInfo(after, page.HasNextPage, nil, nil)
	if n := len(out.Edges); n > 0 {
		out.PageInfo.StartCursor, out.PageInfo.EndCursor = &out.Edges[0].Cursor, &out.Edges[n-1].Cursor
	}
	return out
}

// afterScrape reads a scrape jobs cursor: the job id to list after (0 for none).
func afterScrape(cursor *string) (int64, error) {
	pos, err := afterKind(cursorScrape, cursor)
	if err != nil || pos == "" {
		return 0, err
	}
	id, err := strconv.ParseInt(pos, 10, 64)
	if err != nil || id <= 0 {
		return 0, badCursor()
	}
	return id, nil
}

// scrapeID reads a scrape job id.
func scrapeID(s string) (int64, error) { return jobs.ParseID(s) }
