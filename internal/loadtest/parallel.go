package loadtest

import (
	"context"
	"sync"
	"sync/atomic"
)

// parallel runs fn(i) for every i in [0,n) on at most conc goroutines and
// reports progress. It stops handing out work once ctx is done, so a phase
// cut short by the deadline returns promptly.
func parallel(ctx context.Context, n, conc int, phase string, progress func(string, int, int), fn func(i int)) {
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for range min(conc, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
				progress(phase, int(done.Add(1)), n)
			}
		})
	}
	wg.Wait()
}
