package federation

import "time"

// Retry schedule of the outbound queues. A destination that failed n times
// in a row is retried after BackoffDelay(n): 2 s, 4 s, 8 s … doubling up to
// an hour. The cap keeps a long-dead server from being forgotten for days;
// a request from it (Sender.Wake) retries at once whatever the schedule.
const (
	BackoffBase = 2 * time.Second
	BackoffCap  = time.Hour
)

// BackoffDelay is how long to wait after failures consecutive failed
// attempts; 0 for none.
func BackoffDelay(failures int) time.Duration {
	if failures <= 0 {
		return 0
	}
	delay := BackoffBase
	for i := 1; i < failures; i++ {
		delay *= 2
		if delay >= BackoffCap {
			return BackoffCap
		}
	}
	return min(delay, BackoffCap)
}
