package loadgen

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Latency summarises latency samples, in milliseconds. The percentiles are
// exact: taken from all samples, sorted, by nearest rank.
type Latency struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99.9"`
	Max  float64 `json:"max"`
}

// summarize sorts samples in place and returns their percentiles.
func summarize(samples []time.Duration) Latency {
	if len(samples) == 0 {
		return Latency{}
	}
	slices.Sort(samples)
	at := func(p float64) float64 {
		// The epsilon keeps 99.9% of 1000 at rank 999: 99.9 is not exact.
		i := int(math.Ceil(p/100*float64(len(samples))-1e-9)) - 1
		return ms(samples[max(i, 0)])
	}
	return Latency{
		N:    len(samples),
		P50:  at(50),
		P90:  at(90),
		P99:  at(99),
		P999: at(99.9),
		Max:  ms(samples[len(samples)-1]),
	}
}

// ms converts d to milliseconds, rounded to the microsecond.
func ms(d time.Duration) float64 {
	return math.Round(float64(d)/1e3) / 1e3
}

// errorCounts counts errors by kind: a status such as "429", or "window
// full", "no ack", "closed 1013"... It is safe for concurrent use.
type errorCounts struct {
	mu sync.Mutex
	n  map[string]int64
}

// newErrorCounts starts the counts with kinds that are always reported, so
// that a report shows "500": 0 rather than leaving the reader to wonder.
func newErrorCounts(always ...string) *errorCounts {
	e := &errorCounts{n: make(map[string]int64)}
	for _, k := range always {
		e.n[k] = 0
	}
	return e
}

func (e *errorCounts) add(kind string, n int64) {
	e.mu.Lock()
	e.n[kind] += n
	e.mu.Unlock()
}

// snapshot returns a copy of the counts.
func (e *errorCounts) snapshot() map[string]int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.n)
}

// total returns the sum of the counts.
func (e *errorCounts) total() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var t int64
	for _, n := range e.n {
		t += n
	}
	return t
}

// FormatErrors renders error counts as `{"429": 3, "window full": 2}`,
// sorted by kind.
func FormatErrors(errs map[string]int64) string {
	keys := slices.Collect(maps.Keys(errs))
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%q: %d", k, errs[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// samples is a growing list of latencies that a progress reporter may read
// while the owner appends. Each connection has its own, so that readers do
// not contend on one lock.
type samples struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *samples) add(d time.Duration) {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
}

// since appends to dst the samples from index from on, and returns dst and
// the index to pass next time.
func (s *samples) since(dst []time.Duration, from int) ([]time.Duration, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(dst, s.d[from:]...), len(s.d)
}

// all returns the samples; the caller must be the last user of s.
func (s *samples) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.d
}
