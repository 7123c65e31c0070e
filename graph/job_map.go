package graph

import (
	"strconv"
	"strings"

	"wagraph/graph/model"
	"wagraph/internal/jobs"
)

func jobFilter(f *model.JobFilter) jobs.Filter {
	if f == nil {
		return jobs.Filter{}
	}
	out := jobs.Filter{Kind: deref(f.Kind)}
	if f.State != nil {
		out.State = string(*f.State)
	}
	return out
}

func jobConnection(page *jobs.Page, after string) *model.JobConnection {
	out := &model.JobConnection{Edges: []*model.JobEdge{}, TotalCount: page.TotalCount}
	for _, j := range page.Jobs {
		out.Edges = append(out.Edges, &model.JobEdge{Cursor: jobs.Cursor(j.ID), Node: jobModel(j)})
	}
	out.PageInfo = &model.PageInfo{HasNextPage: page.HasNextPage, HasPreviousPage: after != ""}
	if n := len(out.Edges); n > 0 {
		out.PageInfo.StartCursor, out.PageInfo.EndCursor = &out.Edges[0].Cursor, &out.Edges[n-1].Cursor
	}
	return out
}

func jobModel(j jobs.Job) *model.Job {
	out := &model.Job{
		ID: strconv.FormatInt(j.ID, 10), Kind: j.Kind, State: model.JobState(strings.ToUpper(string(j.State))),
		Queue: j.Queue, Attempts: j.Attempt, MaxAttempts: j.MaxAttempts, Errors: []*model.JobError{},
		CreatedAt: j.CreatedAt, ScheduledAt: j.ScheduledAt, AttemptedAt: j.AttemptedAt, FinalizedAt: j.FinalizedAt,
	}
	for _, e := range j.Errors {
		out.Errors = append(out.Errors, &model.JobError{Attempt: e.Attempt, At: e.At, Message: e.Error})
	}
	return out
}
