package graph

import (
	"strconv"
	"time"

	"wagraph/graph/model"
	"wagraph/internal/contact"
)

// cursorImport prefixes importJobs cursors (the import's id).
const cursorImport = "import:"

func importJobModel(j *contact.ImportJob) *model.ImportJob {
	out := &model.ImportJob{
		ID: j.ID, JobID: strconv.FormatInt(j.JobID, 10), State: model.ImportState(j.State), FileName: j.FileName,
		FileBytes: int(j.FileBytes), BytesDone: int(j.BytesDone), PersonaIds: append([]string{}, j.PersonaIDs...),
		DryRun: j.DryRun, Report: importReport(&j.Report), CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt,
		StartedAt: timeOrNil(j.StartedAt), FinishedAt: timeOrNil(j.FinishedAt), Version: int(j.Version),
	}
	if j.FileBytes > 0 {
		out.Progress = float64(j.BytesDone) / float64(j.FileBytes)
	} else if j.State == contact.ImportDone {
		out.Progress = 1
	}
	if j.DefaultRegion != "" {
		out.DefaultRegion = &j.DefaultRegion
	}
	if j.State == contact.ImportFailed {
		out.Failure = &model.ImportFailure{Code: j.ErrorCode, Message: j.ErrorMessage}
	}
	return out
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func afterImport(cursor *string) (string, error) {
	if cursor == nil || *cursor == "" {
		return "", nil
	}
	return decodeCursor(cursorImport, *cursor)
}

func importJobConnection(page *contact.ImportPage, after string) *model.ImportJobConnection {
	out := &model.ImportJobConnection{Edges: []*model.ImportJobEdge{}, TotalCount: page.TotalCount}
	for _, j := range page.Imports {
		out.Edges = append(out.Edges, &model.ImportJobEdge{Cursor: encodeCursor(cursorImport, j.ID), Node: importJobModel(j)})
	}
	out.PageInfo = &model.PageInfo{HasNextPage: page.HasNextPage, HasPreviousPage: after != ""}
	if n := len(out.Edges); n > 0 {
		out.PageInfo.StartCursor, out.PageInfo.EndCursor = &out.Edges[0].Cursor, &out.Edges[n-1].Cursor
	}
	return out
}

func importProgressEvent(ev contact.ImportEvent, _ time.Time) *model.ImportProgressEvent {
	return &model.ImportProgressEvent{
		JobID: ev.Job.ID, Version: int(ev.Job.Version), Job: importJobModel(&ev.Job),
		Snapshot: ev.Snapshot, Final: ev.Job.State.Final(),
	}
}
