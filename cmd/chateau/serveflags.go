package main

import (
	"flag"
	"io"
	"log/slog"
	"strings"

	"github.com/chateau/chateau/wsapi"
)

// serveConfig is what serve's flags (or their environment variables) set.
type serveConfig struct {
	data, addr, adminAddr string
	logLevel, logFormat   string
	requirePassword       bool
	rateLimit             float64
	rateBurst, maxConns   int
	origins               string
	maxFrame              int64
	maxContent, sendQueue int
	noSync                bool
	trustedProxies        trustedProxies
	tlsCert, tlsKey       string
	nats, stream          string
	replicas              int
}

// parseServeConfig reads serve's flags from the environment and args, and
// checks them. Every error but flag.ErrHelp is a usageError.
func parseServeConfig(args []string, stdout io.Writer) (serveConfig, error) {
	var cfg serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&cfg.data, "data", "chateau.db", "data file (created if missing)")
	fs.StringVar(&cfg.addr, "addr", "localhost:8888", "address to listen on (the public listener)")
	fs.StringVar(&cfg.adminAddr, "admin-addr", "", "TCP address of the admin listener (metrics, backup); by default a unix socket beside the data file, -data plus .sock")
	fs.StringVar(&cfg.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&cfg.logFormat, "log-format", "text", "log format: text or json")
	fs.BoolVar(&cfg.requirePassword, "require-password", false, "refuse (401) registrations without a password")
	fs.Float64Var(&cfg.rateLimit, "rate-limit", 20, "requests per second per connection; 0 turns the limit off")
	fs.IntVar(&cfg.rateBurst, "rate-burst", 40, "requests a connection may send at once above -rate-limit")
	fs.IntVar(&cfg.maxConns, "max-conns", 10000, "open connections; upgrades beyond get HTTP 503 (0: no limit)")
	fs.StringVar(&cfg.origins, "allowed-origins", "", "comma-separated browser origins allowed besides the server's own (* for any)")
	fs.Int64Var(&cfg.maxFrame, "max-frame-bytes", wsapi.DefaultMaxFrameBytes, "largest WebSocket frame; larger ones close the connection with 1009")
	fs.IntVar(&cfg.maxContent, "max-content-bytes", wsapi.DefaultMaxContentBytes, "largest message content; larger gets 413")
	fs.IntVar(&cfg.sendQueue, "send-queue", wsapi.DefaultSendQueue, "frames queued per connection before a slow client is dropped (1013)")
	fs.Func("trusted-proxies", "comma-separated IP addresses and CIDR prefixes of reverse proxies whose X-Forwarded-For names the client in the logs", func(list string) (err error) {
		cfg.trustedProxies, err = parseTrustedProxies(list)
		return err
	})
	fs.StringVar(&cfg.tlsCert, "tls-cert", "", "PEM certificate (chain) file: serve HTTPS and WSS on -addr; reloaded on SIGHUP; needs -tls-key")
	fs.StringVar(&cfg.tlsKey, "tls-key", "", "PEM private key file of -tls-cert")
	fs.StringVar(&cfg.nats, "nats", "", "comma-separated NATS server URLs: run as one node of a cluster whose log is a JetStream stream, instead of -data")
	fs.StringVar(&cfg.stream, "stream", "chateau", "with -nats: the JetStream stream holding the log (created on first use)")
	fs.IntVar(&cfg.replicas, "replicas", 3, "with -nats: copies of the stream (1 only for a single NATS server)")
	fs.BoolVar(&cfg.noSync, "unsafe-no-fsync", false, "UNSAFE, for benchmarks only: do not fsync commits; a crash loses acknowledged messages")
	if err := parseFlags(fs, args, stdout); err != nil {
		return cfg, err
	}
	return cfg, cfg.validate()
}

// validate refuses limits that make no sense together. The log level and
// format are checked by newLogger.
func (cfg serveConfig) validate() error {
	switch {
	case cfg.rateLimit < 0:
		return usagef("serve: -rate-limit must not be negative")
	case cfg.rateLimit > 0 && cfg.rateBurst < 1:
		return usagef("serve: -rate-burst must be at least 1")
	case cfg.maxConns < 0:
		return usagef("serve: -max-conns must not be negative")
	case cfg.maxFrame < 1024:
		return usagef("serve: -max-frame-bytes must be at least 1024")
	case cfg.maxContent < 1 || int64(cfg.maxContent) > cfg.maxFrame:
		return usagef("serve: -max-content-bytes must be between 1 and -max-frame-bytes")
	case cfg.sendQueue < 1:
		return usagef("serve: -send-queue must be at least 1")
	case (cfg.tlsCert == "") != (cfg.tlsKey == ""):
		return usagef("serve: -tls-cert and -tls-key go together: give both or neither")
	case cfg.nats != "" && (cfg.replicas < 1 || cfg.replicas > 5):
		return usagef("serve: -replicas must be between 1 and 5")
	case cfg.nats != "" && cfg.noSync:
		return usagef("serve: -unsafe-no-fsync applies to -data only; NATS servers fsync as their sync_interval says")
	}
	return nil
}

// newLogger returns the server's logger: text or JSON lines on w.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("serve: -log-level: %v", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("serve: -log-format must be text or json")
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
