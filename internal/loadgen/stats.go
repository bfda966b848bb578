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

// summarize reorders samples and returns their percentiles. It selects
// each rank rather than sorting, as the progress line summarizes a
// second's deliveries every second while the run lasts.
func summarize(samples []time.Duration) Latency {
	if len(samples) == 0 {
		return Latency{}
	}
	// Ascending ranks: selecting each splits off the part below it, so
	// the next is selected among what is left.
	from := 0
	at := func(p float64) float64 {
		// The epsilon keeps 99.9% of 1000 at rank 999: 99.9 is not exact.
		i := max(int(math.Ceil(p/100*float64(len(samples))-1e-9))-1, from)
		selectRank(samples[from:], i-from)
		from = i
		return ms(samples[i])
	}
	return Latency{
		N:    len(samples),
		P50:  at(50),
		P90:  at(90),
		P99:  at(99),
		P999: at(99.9),
		Max:  ms(slices.Max(samples[from:])),
	}
}

// selectRank reorders s so that s[k] is what it would be if s were sorted,
// with nothing greater before it and nothing smaller after it. It is
// quickselect, with a sort to bound the rare bad case.
func selectRank(s []time.Duration, k int) {
	lo, hi := 0, len(s)-1
	for rounds := 0; hi-lo > 16; rounds++ {
		if rounds > 64 {
			break // the pivots keep missing: sort what is left
		}
		a, b, c := s[lo], s[lo+(hi-lo)/2], s[hi]
		pivot := max(min(a, b), min(max(a, b), c)) // the median of three
		i, j := lo, hi
		for i <= j {
			for s[i] < pivot {
				i++
			}
			for s[j] > pivot {
				j--
			}
			if i <= j {
				s[i], s[j] = s[j], s[i]
				i++
				j--
			}
		}
		// s[lo:j+1] <= pivot, s[i:hi+1] >= pivot, and between them is the
		// pivot only.
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return
		}
	}
	slices.Sort(s[lo : hi+1])
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

// sampleChunk is how many latencies samples stores per allocation.
const sampleChunk = 4096

// samples is a growing list of latencies that a progress reporter may read
// while the owner appends. Each connection has its own, so that readers do
// not contend on one lock. It is stored in chunks, because copying it to
// grow it would cost more than all the appending.
type samples struct {
	mu     sync.Mutex
	chunks [][]time.Duration // all full but the last
	n      int
}

func (s *samples) add(d time.Duration) {
	s.mu.Lock()
	if s.n%sampleChunk == 0 {
		s.chunks = append(s.chunks, make([]time.Duration, 0, sampleChunk))
	}
	last := &s.chunks[len(s.chunks)-1]
	*last = append(*last, d)
	s.n++
	s.mu.Unlock()
}

// since appends to dst the samples from index from on, and returns dst and
// the index to pass next time.
func (s *samples) since(dst []time.Duration, from int) ([]time.Duration, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := from / sampleChunk; c < len(s.chunks); c++ {
		dst = append(dst, s.chunks[c][max(from-c*sampleChunk, 0):]...)
	}
	return dst, s.n
}
