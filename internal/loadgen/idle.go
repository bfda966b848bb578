package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// IdleConfig describes an idle run: Conns registered connections that
// send nothing, held open for Hold.
type IdleConfig struct {
	// URLs are the /ws endpoints, as in Config: connection i goes to
	// URLs[i mod len(URLs)].
	URLs  []string
	Run   string // prefix of the names; empty: random
	Conns int
	Hold  time.Duration
	// ServerPID, if not 0, is the server's process on this machine, whose
	// resident memory is read before and after.
	ServerPID int
	// Concurrency bounds the connections being opened at once; 0 means
	// 200.
	Concurrency int
	// Progress, if set, gets a line a second while the run lasts.
	Progress io.Writer
}

// IdleReport is what an idle run measured. The RSS fields are only set
// with a server pid: RSSAfter is read at the end of the hold, with every
// connection still open, so that what the server allocates lazily per
// connection is counted too.
type IdleReport struct {
	Run         string           `json:"run"`
	URL         string           `json:"url"` // the endpoints, comma-separated
	Requested   int              `json:"idle"`
	Opened      int              `json:"opened"`
	Failed      int              `json:"failed"`
	Dropped     int              `json:"dropped"` // closed by the server while held
	Errors      map[string]int64 `json:"errors"`
	HeldSeconds float64          `json:"held_seconds"`
	Interrupted bool             `json:"interrupted"`

	ServerPID    int     `json:"server_pid,omitempty"`
	RSSBefore    int64   `json:"rss_before,omitempty"`
	RSSAfter     int64   `json:"rss_after,omitempty"`
	BytesPerConn float64 `json:"bytes_per_conn,omitempty"`
}

// Idle opens cfg.Conns registered connections, holds them for cfg.Hold or
// until ctx ends, and reports. Connections that fail to open are counted,
// not fatal; only failing to read the server's memory is an error.
func Idle(ctx context.Context, cfg IdleConfig) (*IdleReport, error) {
	if len(cfg.URLs) == 0 {
		return nil, fmt.Errorf("loadgen: invalid idle config %+v", cfg)
	}
	if cfg.Run == "" {
		cfg.Run = RandomRun()
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = setupConcurrency
	}
	rep := &IdleReport{Run: cfg.Run, URL: strings.Join(cfg.URLs, ","), Requested: cfg.Conns, ServerPID: cfg.ServerPID}
	if cfg.ServerPID != 0 {
		rss, err := ReadRSS(cfg.ServerPID)
		if err != nil {
			return nil, err
		}
		rep.RSSBefore = rss
	}

	errs := newErrorCounts()
	conns := make([]*conn, cfg.Conns)
	var opened atomic.Int64
	stopProgress, progressDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(progressDone)
		idleProgress(cfg, &opened, stopProgress)
	}()
	d := newDialer(idleReadBuffer)
	_ = forEach(ctx, cfg.Conns, cfg.Concurrency, func(i int) error {
		c, err := dialRegister(ctx, d, nodeURL(cfg.URLs, i), fmt.Sprintf("idle-%s-%d", cfg.Run, i))
		if err != nil {
			errs.add(idleErrorKey(err), 1)
			return nil
		}
		// Reading keeps answering the server's pings.
		c.startReader(func([]byte) {})
		conns[i] = c
		opened.Add(1)
		return nil
	})

	start := time.Now()
	hold := time.NewTimer(cfg.Hold)
	select {
	case <-hold.C:
	case <-ctx.Done():
		rep.Interrupted = true
	}
	hold.Stop()
	rep.HeldSeconds = time.Since(start).Seconds()
	close(stopProgress)
	<-progressDone

	var rssErr error
	if cfg.ServerPID != 0 {
		rep.RSSAfter, rssErr = ReadRSS(cfg.ServerPID)
	}
	closeConns(conns)
	for _, c := range conns {
		if c == nil {
			rep.Failed++
			continue
		}
		rep.Opened++
		if c.dropped != nil {
			rep.Dropped++
			errs.add(dropKey(c.dropped), 1)
		}
	}
	if rssErr != nil {
		return nil, rssErr
	}
	if rep.RSSBefore != 0 && rep.Opened > 0 {
		rep.BytesPerConn = float64(rep.RSSAfter-rep.RSSBefore) / float64(rep.Opened)
	}
	rep.Errors = errs.snapshot()
	return rep, nil
}

// idleErrorKey groups connection failures by cause: "dial: HTTP 503" as it
// is, but one key for all "dial: ...: connection refused" whatever the port.
func idleErrorKey(err error) string {
	s := err.Error()
	if strings.HasPrefix(s, "register ") {
		// "register idle-x-12: 302 ..." -> "register: 302 ..."
		if _, rest, ok := strings.Cut(s, ": "); ok {
			return "register: " + rest
		}
	}
	if i := strings.LastIndex(s, ": "); strings.HasPrefix(s, "dial: ") && i > len("dial:") {
		return "dial: " + s[i+2:]
	}
	return s
}

// idleProgress writes a line a second to cfg.Progress until stop.
func idleProgress(cfg IdleConfig, opened *atomic.Int64, stop <-chan struct{}) {
	if cfg.Progress == nil {
		return
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			line := fmt.Sprintf("bench idle: %d/%d open", opened.Load(), cfg.Conns)
			if cfg.ServerPID != 0 {
				if rss, err := ReadRSS(cfg.ServerPID); err == nil {
					line += fmt.Sprintf(", server RSS %.1f MiB", float64(rss)/(1<<20))
				}
			}
			fmt.Fprintln(cfg.Progress, line)
		}
	}
}

// ReadRSS returns the resident memory of process pid in bytes, from the
// VmRSS line of /proc/<pid>/status (Linux).
func ReadRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("server memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		// "VmRSS:	   12345 kB"
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			break
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			break
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("server memory: %w", err)
	}
	return 0, fmt.Errorf("server memory: no VmRSS in /proc/%d/status", pid)
}
