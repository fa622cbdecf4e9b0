package federation

import "time"

// Retry schedule of the outbound queues. A destination that failed n times
// in a row is retried after BackoffDelay(n): 2 s, 4 s, 8 s … doubling up to
// an hour. The cap keeps a long-dead server from being forgotten for days;
// a request from it (Sender.Wake), such as the one it sends everyone it
// shares a room with when it starts (Sender.announce), retries at once
// whatever the schedule.
const (
	BackoffBase = 2 * time.Second
	BackoffCap  = time.Hour
)

// BackoffDelay is how long to wait after failures consecutive failed
// attempts; 0 for none.
func BackoffDelay(failures int) time.Duration {
	return BackoffSchedule(BackoffBase, BackoffCap)(failures)
}

// BackoffSchedule is the doubling schedule from base up to limit (the
// federation.retry_backoff_* settings). A base or limit of 0 or less
// means the default.
func BackoffSchedule(base, limit time.Duration) func(failures int) time.Duration {
	if base <= 0 {
		base = BackoffBase
	}
	if limit <= 0 {
		limit = BackoffCap
	}
	return func(failures int) time.Duration {
		if failures <= 0 {
			return 0
		}
		delay := base
		for i := 1; i < failures; i++ {
			delay *= 2
			if delay >= limit {
				return limit
			}
		}
		return min(delay, limit)
	}
}
