package message_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/account"
	"wagraph/internal/contact"
	"wagraph/internal/jobs"
	"wagraph/internal/message"
	"wagraph/internal/pubsub"
	"wagraph/internal/ratelimit"
	"wagraph/internal/sending"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// childEnv names the database a send-queue child process drains; see
// TestKillChildDrainsTheQueue.
const childEnv = "MESSAGE_KILL_CHILD_DB"

// A batch killed mid-drain with kill -9 finishes after a restart, and no
// message is sent twice except in the one documented window: a process
// killed after WhatsApp took a message and before SENT was written sends it
// again, under the same WhatsApp message id. "WhatsApp" here is a table the
// child writes each send to, committed before the send returns, so it
// survives the kill as WhatsApp's copy would.
func TestKilledMidBatchSendsEachMessageOnce(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("this is the child process")
	}
	dbURL := storetest.URL(t, store.Postgres)
	ctx := context.Background()
	db, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE whatsapp_log (message_id TEXT NOT NULL, wa_id TEXT NOT NULL, at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	acc, err := account.New(db, pubsub.NewMemory(pubsub.Options{}), account.Options{Logger: log}).Create(ctx, account.CreateInput{Name: "killed"})
	if err != nil {
		t.Fatal(err)
	}
	contacts := contact.New(db, contact.Options{Logger: log})
	p, err := contacts.CreatePersona(ctx, "all", "")
	if err != nil {
		t.Fatal(err)
	}
	const total = 400
	var obs []contact.Observation
	for i := range total {
		obs = append(obs, contact.Observation{Phone: fmt.Sprintf("+49151%08d", i+1)})
	}
	if _, err := contacts.ImportList(ctx, contact.ImportListInput{Contacts: obs, PersonaIDs: []string{p.ID}}); err != nil {
		t.Fatal(err)
	}
	reg := jobs.NewRegistry()
	js, err := jobs.New(db, reg, jobs.Options{Logger: log}) // enqueues only, never started
	if err != nil {
		t.Fatal(err)
	}
	svc := message.New(message.Deps{DB: db, Jobs: js, Contacts: contacts}, message.Options{Logger: log})
	svc.RegisterJobs(reg)
	b, err := svc.Queue(ctx, message.QueueInput{AccountID: acc.ID, Recipients: contact.Selection{Filter: &contact.Filter{PersonaID: p.ID}}, Text: "hi {{phone}}"})
	if err != nil || b.Total != total {
		t.Fatalf("queue: %+v %v", b, err)
	}
	count := func(q string) int {
		var n int
		if err := db.NewRaw(q).Scan(ctx, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitFor := func(what string, cond func() bool, child *childProcess) {
		deadline := time.Now().Add(2 * time.Minute)
		tick := time.NewTicker(50 * time.Millisecond) // another process's progress: look now and then
		defer tick.Stop()
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; child log:\n%s", what, child.log())
			}
			select {
			case <-tick.C:
			case <-child.exited:
				t.Fatalf("child exited before %s:\n%s", what, child.log())
			}
		}
	}

	first := startChild(t, dbURL)
	waitFor("a third of the batch to be sent", func() bool { return count("SELECT count(*) FROM whatsapp_log") >= total/3 }, first)
	first.kill(t)
	atKill := count("SELECT count(*) FROM messages WHERE status = 'SENT'")
	sending := count("SELECT count(*) FROM messages WHERE status = 'SENDING'")
	if atKill >= total {
		t.Fatalf("the whole batch was sent before the kill")
	}

	second := startChild(t, dbURL)
	waitFor("the batch to finish", func() bool { return count("SELECT count(*) FROM messages WHERE status = 'SENT'") == total }, second)
	second.kill(t)

	// Every message was sent under the WhatsApp id it recorded; a message
	// sent more than once was SENDING at the kill, under one id.
	type row struct {
		MessageID string `bun:"message_id"`
		N         int    `bun:"n"`
		IDs       int    `bun:"ids"`
		Recorded  string `bun:"recorded"`
		Logged    string `bun:"logged"`
	}
	var rows []row
	if err := db.NewRaw(`SELECT m.id AS message_id, count(l.wa_id) AS n, count(DISTINCT l.wa_id) AS ids, m.wa_message_id AS recorded, min(l.wa_id) AS logged
		FROM messages m LEFT JOIN whatsapp_log l ON l.message_id = m.id GROUP BY m.id, m.wa_message_id`).Scan(ctx, &rows); err != nil {
		t.Fatal(err)
	}
	twice := 0
	for _, r := range rows {
		if r.N == 0 || r.IDs != 1 || r.Recorded != r.Logged {
			t.Fatalf("message %s: sent %d times under %d ids (recorded %q, sent %q)", r.MessageID, r.N, r.IDs, r.Recorded, r.Logged)
		}
		if r.N > 1 {
			twice++
		}
	}
	if len(rows) != total || twice > sending {
		t.Fatalf("%d messages, %d sent twice; %d were SENDING at the kill (the only ones that may be)", len(rows), twice, sending)
	}
	t.Logf("killed with %d of %d sent and %d in flight; after the restart all sent, %d of them twice under the same id", atKill, total, sending, twice)
}

// TestKillChildDrainsTheQueue is the child process of
// TestKilledMidBatchSendsEachMessageOnce: it works send jobs until killed.
func TestKillChildDrainsTheQueue(t *testing.T) {
	dbURL := os.Getenv(childEnv)
	if dbURL == "" {
		t.Skip("runs only as the child of TestKilledMidBatchSendsEachMessageOnce")
	}
	ctx := context.Background()
	db, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(os.Stderr).Level(zerolog.WarnLevel)
	policy, err := sending.New(db, ratelimit.NewMemory(), sending.Defaults{Limits: []ratelimit.Limit{{Max: 100, Window: time.Second}}, NewChatsPerDay: 100_000}, sending.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := jobs.NewRegistry()
	js, err := jobs.New(db, reg, jobs.Options{Logger: log, Workers: 10, PollInterval: 50 * time.Millisecond, RescueAfter: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	svc := message.New(message.Deps{DB: db, Jobs: js, Sender: &loggingSender{db: db}, Admitter: policy,
		Contacts: contact.New(db, contact.Options{Logger: log})}, message.Options{Logger: log, LookupInterval: time.Millisecond})
	svc.RegisterJobs(reg)
	if err := js.Start(ctx); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(os.Stderr, "child working")
	select {} // until killed
}

// loggingSender is WhatsApp for the child: a send is "accepted" once its
// row is committed to whatsapp_log.
type loggingSender struct{ db *store.DB }

func (s *loggingSender) Send(ctx context.Context, _, _, _, waID string) (message.SentResult, error) {
	var id string
	if err := s.db.NewRaw("SELECT id FROM messages WHERE wa_message_id = ?", waID).Scan(ctx, &id); err != nil {
		return message.SentResult{}, err
	}
	if _, err := s.db.ExecContext(ctx, "INSERT INTO whatsapp_log (message_id, wa_id) VALUES (?, ?)", id, waID); err != nil {
		return message.SentResult{}, err
	}
	// WhatsApp's acknowledgement takes a moment to come back: a kill in it
	// is the window in which a message is taken but not recorded SENT.
	ack := time.NewTimer(20 * time.Millisecond)
	defer ack.Stop()
	select {
	case <-ack.C:
	case <-ctx.Done():
		return message.SentResult{}, ctx.Err()
	}
	return message.SentResult{At: time.Now()}, nil
}

func (s *loggingSender) IsOnWhatsApp(_ context.Context, _ string, phones []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, p := range phones {
		out[p] = true
	}
	return out, nil
}

type childProcess struct {
	cmd    *exec.Cmd
	exited chan struct{}
	mu     sync.Mutex
	out    strings.Builder
}

func (c *childProcess) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(p)
}

func (c *childProcess) log() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

// startChild runs this test binary as a child that drains the queue.
func startChild(t *testing.T, dbURL string) *childProcess {
	t.Helper()
	c := &childProcess{exited: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "-test.run=^TestKillChildDrainsTheQueue$", "-test.timeout=5m")
	c.cmd.Env = append(os.Environ(), childEnv+"="+dbURL)
	c.cmd.Stdout, c.cmd.Stderr = c, c
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.cmd.Wait(); close(c.exited) }()
	t.Cleanup(func() { _ = c.cmd.Process.Kill(); <-c.exited })
	return c
}

// kill ends the child with SIGKILL, as a crash would.
func (c *childProcess) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-c.exited
}
