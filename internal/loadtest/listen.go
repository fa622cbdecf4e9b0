package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"time"
)

type syncResponse struct {
	NextBatch string `json:"next_batch"`
	Rooms     struct {
		Join map[string]struct {
			Timeline struct {
				Events []struct {
					Type    string `json:"type"`
					Content struct {
						Body string `json:"body"`
					} `json:"content"`
				} `json:"events"`
			} `json:"timeline"`
		} `json:"join"`
	} `json:"rooms"`
}

// roomFilter keeps a listener's /sync to its own room's timeline, with a
// limit high enough that a burst between two polls is not cut ("limited").
func roomFilter(roomID string) string {
	f := map[string]any{
		"room": map[string]any{
			"rooms":    []string{roomID},
			"timeline": map[string]any{"limit": 500, "types": []string{"m.room.message"}},
			"state":    map[string]any{"types": []string{}},
		},
		"presence":     map[string]any{"types": []string{}},
		"account_data": map[string]any{"types": []string{}},
	}
	b, _ := json.Marshal(f)
	return string(b)
}

// listener long-polls /sync as one member of one room and reports every
// benchmark marker it sees to the tracker.
type listener struct {
	r     *runner
	token string
	room  string
	since string
}

// prime takes the since token the live loop starts from, so history before
// the send phase is not scanned.
func (l *listener) prime(ctx context.Context) error {
	resp, err := l.sync(ctx, 0)
	if err == nil {
		l.since = resp.NextBatch
	}
	return err
}

// run polls until ctx is cancelled (the runner does so once everything
// was delivered or the drain time is up).
func (l *listener) run(ctx context.Context, t *tracker) {
	for ctx.Err() == nil {
		resp, err := l.sync(ctx, l.r.cfg.PollTimeout)
		now := time.Now()
		if err != nil {
			sleep(ctx, 200*time.Millisecond) // don't spin on a failing server
			continue
		}
		l.since = resp.NextBatch
		for _, ev := range resp.Rooms.Join[l.room].Timeline.Events {
			if seq, ok := ParseMarker(ev.Content.Body, l.r.runID); ok && ev.Type == "m.room.message" {
				t.arrive(seq, now)
			}
		}
	}
}

func (l *listener) sync(ctx context.Context, timeout time.Duration) (*syncResponse, error) {
	q := url.Values{"timeout": {strconv.Itoa(int(timeout.Milliseconds()))}, "filter": {roomFilter(l.room)}}
	if l.since != "" {
		q.Set("since", l.since)
	}
	var out syncResponse
	err := l.r.c.call(ctx, "GET", clientV3+"/sync?"+q.Encode(), l.token, nil, &out)
	if err == nil && out.NextBatch == "" {
		err = errors.New("sync answered without next_batch")
	}
	return &out, err
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
