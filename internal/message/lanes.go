package message

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/riverqueue/river"
	"github.com/uptrace/bun"
)

// Send lanes.
//
// River hands out a queue's jobs in the order they were queued, and an
// account sends one message at a time (whatsmeow sends one message per
// client at a time, and deliver takes the account's turn). With every send
// job in one queue, the batch queued first filled all the workers with
// jobs of one account, all but one waiting for its turn, while every other
// account's jobs waited behind them: the queue moved at one account's pace
// (bench/messages measured 2 to 3 sends in flight with 200 workers and 50
// accounts; JOB_WORKERS is 10 by default).
//
// So sends run in lanes: River queues send_0 … send_31, each with a few
// workers of its own (SEND_LANE_WORKERS). An account's jobs always go to
// its lane, so one account's batch holds up at most that lane, and up to
// 32 accounts send side by side on each instance. An account gets its lane
// the first time it queues a message: the lane with the fewest accounts
// then (send_lanes), so 64 accounts are two to a lane rather than up to
// five as a hash of their ids would put them. Accounts that share a lane
// take turns in the order their messages were queued. Scrapes, imports
// and the other background jobs keep River's default queue and
// JOB_WORKERS to themselves.

// Lanes is how many lanes there are. It is fixed by the code, not
// configured: a job in a lane no instance works would wait forever, so
// changing it needs a migration that moves the queued send jobs.
const Lanes = 32

// DefaultLaneWorkers is the SEND_LANE_WORKERS default: one worker sending,
// the others getting the lane's next messages ready (the job, admission,
// the WhatsApp lookup).
const DefaultLaneWorkers = 3

// lanePrefix begins the name of each send lane's River queue.
const lanePrefix = "send_"

func laneName(i int) string { return lanePrefix + strconv.Itoa(i) }

// laneRow is an account's lane.
type laneRow struct {
	bun.BaseModel `bun:"table:send_lanes"`
	AccountID     string `bun:"account_id,pk"`
	Lane          int    `bun:"lane,notnull"`
}

// lanes remembers the accounts' lanes, which never change.
type lanes struct {
	mu sync.Mutex
	by map[string]int
}

// laneOpts are the insert options of accountID's send jobs: its lane,
// given the first time it sends.
func (s *Service) laneOpts(ctx context.Context, accountID string) (*river.InsertOpts, error) {
	lane, err := s.lane(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return &river.InsertOpts{Queue: laneName(lane), MaxAttempts: SendArgs{}.InsertOpts().MaxAttempts}, nil
}

// lane returns accountID's lane, giving it the lane with the fewest
// accounts when it has none. Two first sends of one account at once may
// both pick a lane; the first insert wins and both read it back.
func (s *Service) lane(ctx context.Context, accountID string) (int, error) {
	s.lanes.mu.Lock()
	lane, ok := s.lanes.by[accountID]
	s.lanes.mu.Unlock()
	if ok {
		return lane, nil
	}
	var rows []laneRow
	if err := s.DB.NewSelect().Model(&rows).Where("account_id = ?", accountID).Scan(ctx); err != nil {
		return 0, fmt.Errorf("message: read the send lane: %w", err)
	}
	if len(rows) == 0 {
		pick, err := s.emptiestLane(ctx)
		if err != nil {
			return 0, err
		}
		row := &laneRow{AccountID: accountID, Lane: pick}
		if _, err := s.DB.NewInsert().Model(row).On("CONFLICT (account_id) DO NOTHING").Exec(ctx); err != nil {
			return 0, fmt.Errorf("message: give a send lane: %w", err)
		}
		if err := s.DB.NewSelect().Model(&rows).Where("account_id = ?", accountID).Scan(ctx); err != nil {
			return 0, fmt.Errorf("message: read the send lane: %w", err)
		}
		if len(rows) == 0 {
			return 0, fmt.Errorf("message: account %s has no send lane after giving it one (deleted meanwhile?)", accountID)
		}
	}
	lane = rows[0].Lane
	s.lanes.mu.Lock()
	s.lanes.by[accountID] = lane
	s.lanes.mu.Unlock()
	return lane, nil
}

// emptiestLane is the lane with the fewest accounts (the lowest of equals).
func (s *Service) emptiestLane(ctx context.Context) (int, error) {
	var counts []struct {
		Lane     int `bun:"lane"`
		Accounts int `bun:"accounts"`
	}
	err := s.DB.NewSelect().Model((*laneRow)(nil)).Column("lane").ColumnExpr("count(*) AS accounts").
		Group("lane").Scan(ctx, &counts)
	if err != nil {
		return 0, fmt.Errorf("message: count the send lanes' accounts: %w", err)
	}
	per := make([]int, Lanes)
	for _, c := range counts {
		if c.Lane >= 0 && c.Lane < Lanes {
			per[c.Lane] = c.Accounts
		}
	}
	best := 0
	for i, n := range per {
		if n < per[best] {
			best = i
		}
	}
	return best, nil
}
