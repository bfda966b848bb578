//go:build race

package wsapi

// raceDetector reports whether the race detector is on. It makes goroutine
// stacks larger (and their guard twice as large), so the tests that
// measure stacks skip under it.
const raceDetector = true
