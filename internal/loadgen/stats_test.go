package loadgen

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	var d []time.Duration
	for i := 1000; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	got := summarize(d)
	want := Latency{N: 1000, P50: 500, P90: 900, P99: 990, P999: 999, Max: 1000}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := summarize(nil); got != (Latency{}) {
		t.Errorf("no samples: %+v", got)
	}
}

// TestSummarizeMatchesSort checks the selection against percentiles read
// off sorted samples, on inputs that trouble quickselects: sorted,
// reversed, all equal, few distinct values, tiny.
func TestSummarizeMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n, distinct int) []time.Duration {
		d := make([]time.Duration, n)
		for i := range d {
			d[i] = time.Duration(rng.IntN(distinct))
		}
		return d
	}
	ascending := func(n int) []time.Duration {
		d := make([]time.Duration, n)
		for i := range d {
			d[i] = time.Duration(i)
		}
		return d
	}
	descending := func(n int) []time.Duration {
		d := ascending(n)
		slices.Reverse(d)
		return d
	}
	organPipe := func(n int) []time.Duration {
		d := ascending(n)
		slices.Reverse(d[n/2:])
		return d
	}
	for _, tc := range []struct {
		name string
		d    []time.Duration
	}{
		{"one", []time.Duration{7}},
		{"two", []time.Duration{9, 3}},
		{"seventeen", random(17, 1000)},
		{"random", random(100_000, 1<<40)},
		{"few values", random(100_000, 3)},
		{"all equal", random(50_000, 1)},
		{"ascending", ascending(100_000)},
		{"descending", descending(100_000)},
		{"organ pipe", organPipe(100_000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sorted := slices.Sorted(slices.Values(tc.d))
			at := func(p float64) float64 {
				return ms(sorted[max(int(math.Ceil(p/100*float64(len(sorted))-1e-9))-1, 0)])
			}
			want := Latency{N: len(sorted), P50: at(50), P90: at(90), P99: at(99), P999: at(99.9), Max: ms(sorted[len(sorted)-1])}
			if got := summarize(tc.d); got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

// TestSamples checks that since reads every sample once across chunks.
func TestSamples(t *testing.T) {
	var s samples
	var got []time.Duration
	mark := 0
	n := 0
	for _, batch := range []int{0, 1, sampleChunk - 2, 1, 0, 1, 3*sampleChunk + 5, sampleChunk - 5} {
		for range batch {
			s.add(time.Duration(n))
			n++
		}
		got, mark = s.since(got, mark)
		if mark != n || len(got) != n {
			t.Fatalf("after %d samples: mark %d, %d read", n, mark, len(got))
		}
	}
	for i, d := range got {
		if d != time.Duration(i) {
			t.Fatalf("sample %d is %d", i, d)
		}
	}
	if all, _ := s.since(nil, 0); len(all) != n {
		t.Errorf("since 0: %d of %d", len(all), n)
	}
}
