package loadtest

import (
	"context"
	"errors"
	"net/url"
	"time"
)

// initialSyncs times a full initial /sync (no since, no filter: what a
// client logging in on a new device does) for a sample of users.
func (r *runner) initialSyncs(ctx context.Context, users []*user) {
	n := min(len(users), r.cfg.SyncSample)
	parallel(ctx, n, r.cfg.Concurrency, "initial sync", r.cfg.Progress, func(i int) {
		start := time.Now()
		if r.c.call(ctx, "GET", clientV3+"/sync?timeout=0", users[i].token, nil, nil) == nil {
			r.stats.initialSync.add(time.Since(start))
		}
	})
}

// paginate walks one room's history backwards with /messages, as a client
// scrolling up does, and times each page. A server without the endpoint
// gets a note instead of errors.
func (r *runner) paginate(ctx context.Context, u *user, roomID string) {
	const pageSize = 100
	maxPages := r.cfg.Messages/pageSize + 10 // all messages plus room state, and no more
	from := ""
	for page := 0; page < maxPages && ctx.Err() == nil; page++ {
		q := url.Values{"dir": {"b"}, "limit": {itoa(pageSize)}}
		if from != "" {
			q.Set("from", from)
		}
		var out struct {
			Chunk []any  `json:"chunk"`
			End   string `json:"end"`
		}
		start := time.Now()
		err := r.c.do(ctx, "GET", clientV3+"/rooms/"+pathEscape(roomID)+"/messages?"+q.Encode(), u.token, nil, &out)
		if unrecognized(err) {
			r.note("/messages is not served (404 M_UNRECOGNIZED): pagination skipped")
			return
		}
		if err != nil {
			r.c.errs.add(errCode(err))
			return
		}
		r.stats.messagesPage.add(time.Since(start))
		if len(out.Chunk) == 0 || out.End == "" {
			return
		}
		from = out.End
	}
}

func unrecognized(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && (apiErr.Status == 404 || apiErr.Status == 405) &&
		(apiErr.Errcode == "M_UNRECOGNIZED" || apiErr.Errcode == "")
}
