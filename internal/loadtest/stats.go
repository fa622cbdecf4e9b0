package loadtest

import (
	"math"
	"sort"
	"sync"
	"time"
)

// Summary condenses one kind of timed operation. Times are milliseconds
// as floats, because JSON consumers compare servers and want sub-ms detail.
type Summary struct {
	Count  int     `json:"count"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P95Ms  float64 `json:"p95_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// Percentile returns the nearest-rank percentile p (0..100] of sorted,
// which must be in ascending order. Nearest-rank always returns an observed
// sample, so a p99 over few samples is a real measurement, not an
// interpolation between two.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Summarize sorts a copy of samples and computes the Summary.
func Summarize(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	s := append([]time.Duration(nil), samples...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var total time.Duration
	for _, d := range s {
		total += d
	}
	return Summary{
		Count:  len(s),
		MeanMs: ms(total / time.Duration(len(s))),
		P50Ms:  ms(Percentile(s, 50)),
		P95Ms:  ms(Percentile(s, 95)),
		P99Ms:  ms(Percentile(s, 99)),
		MaxMs:  ms(s[len(s)-1]),
	}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// recorder collects samples from concurrent workers.
type recorder struct {
	mu      sync.Mutex
	samples []time.Duration
}

func (r *recorder) add(d time.Duration) {
	r.mu.Lock()
	r.samples = append(r.samples, d)
	r.mu.Unlock()
}

func (r *recorder) summary() Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Summarize(r.samples)
}

// errorCounter counts failures by Matrix errcode (or a transport label),
// because "M_LIMIT_EXCEEDED x 300" tells an operator more than "300 errors".
type errorCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (e *errorCounter) add(code string) {
	e.mu.Lock()
	if e.counts == nil {
		e.counts = map[string]int{}
	}
	e.counts[code]++
	e.mu.Unlock()
}

func (e *errorCounter) snapshot() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]int, len(e.counts))
	for k, v := range e.counts {
		out[k] = v
	}
	return out
}
