package loadtest

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"
)

type runner struct {
	cfg      Config
	c        *client
	runID    string
	password string
	stats    struct {
		register, login, createRoom, join, send, initialSync, messagesPage recorder
	}
	notesMu sync.Mutex
	notes   []string
}

func (r *runner) note(s string) {
	r.notesMu.Lock()
	r.notes = append(r.notes, s)
	r.notesMu.Unlock()
}

// Run performs one benchmark. It returns an error only when the run could
// not get going (bad config, no account or room could be made); anything
// that fails later is counted in the report instead. ctx bounds the run.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, runID: randomHex(4), password: randomHex(12)}
	r.c = &client{hc: cfg.HTTPClient, base: cfg.URL, errs: &errorCounter{}}
	start := time.Now()
	rep := r.newReport()
	err := r.phases(ctx, rep)
	if ctx.Err() != nil {
		r.note("the run hit its timeout; later phases were cut short or skipped")
	}
	r.fill(rep, time.Since(start))
	return rep, err
}

func (r *runner) phases(ctx context.Context, rep *Report) error {
	users := r.registerUsers(ctx)
	if len(users) == 0 {
		return errors.New("no user could be registered and logged in")
	}
	rooms := r.createRooms(ctx, users)
	if len(rooms) == 0 {
		return errors.New("no room could be created")
	}
	r.joinAll(ctx, users, rooms)
	elapsed, t := r.sendPhase(ctx, users, rooms)
	rep.MessagesSent = t.succeeded
	rep.MessagesFailed = r.cfg.Messages - t.succeeded
	delivered := t.deliveries()
	rep.MessagesDelivered = len(delivered)
	rep.Delivery = Summarize(delivered)
	rep.AfterAck = Summarize(t.afterAck())
	if elapsed > 0 {
		rep.Throughput = math.Round(float64(t.succeeded)/elapsed.Seconds()*10) / 10
	}
	r.initialSyncs(ctx, users)
	r.paginate(ctx, users[rooms[0].listener], rooms[0].id)
	return nil
}

func (r *runner) newReport() *Report {
	return &Report{
		Schema: SchemaVersion, URL: r.cfg.URL, RunID: r.runID,
		Users: r.cfg.Users, Rooms: r.cfg.Rooms, Messages: r.cfg.Messages,
		Concurrency: r.cfg.Concurrency, Registration: r.cfg.Registration,
	}
}

// fill copies what the recorders gathered into the report.
func (r *runner) fill(rep *Report, total time.Duration) {
	rep.DurationS = math.Round(total.Seconds()*1000) / 1000
	rep.Register = r.stats.register.summary()
	rep.Login = r.stats.login.summary()
	rep.CreateRoom = r.stats.createRoom.summary()
	rep.Join = r.stats.join.summary()
	rep.Send = r.stats.send.summary()
	rep.InitialSync = r.stats.initialSync.summary()
	rep.MessagesPage = r.stats.messagesPage.summary()
	rep.Errors = r.c.errs.snapshot()
	r.notesMu.Lock()
	rep.Notes = append([]string{}, r.notes...)
	r.notesMu.Unlock()
}
