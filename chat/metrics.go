package chat

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the core's Prometheus collectors. Create them with
// NewMetrics; a Core without Metrics makes its own, unregistered.
type Metrics struct {
	Online          prometheus.Gauge
	Requests        *prometheus.CounterVec   // by request type and status
	RequestSeconds  *prometheus.HistogramVec // by request type
	Events          prometheus.Counter
	BatchEvents     prometheus.Histogram
	CommitSeconds   prometheus.Histogram
	Deliveries      prometheus.Counter
	SlowDisconnects prometheus.Counter
	ReplaySeconds   prometheus.Gauge
	PasswordHashes  prometheus.Counter
	LoginsRefused   *prometheus.CounterVec // by reason: throttled, hashing_busy
}

// NewMetrics creates the collectors and registers them with reg (if not
// nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Online: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chateau_users_online", Help: "Registered users online.",
		}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chateau_requests_total", Help: "Requests answered, by type and status.",
		}, []string{"type", "status"}),
		RequestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chateau_request_duration_seconds",
			Help:    "Time from reading a request to answering it: the wait for the sequencer, the commit, the fan-out before it.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14),
		}, []string{"type"}),
		Events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chateau_events_appended_total", Help: "Events appended to the log.",
		}),
		BatchEvents: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "chateau_commit_batch_events", Help: "Events per group commit (one bbolt transaction).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11),
		}),
		CommitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "chateau_commit_duration_seconds", Help: "Duration of a group commit, fsync included.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14),
		}),
		Deliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chateau_deliveries_total", Help: "Messages queued to online members and recipients.",
		}),
		SlowDisconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chateau_slow_client_disconnects_total", Help: "Connections closed because they did not read their frames.",
		}),
		ReplaySeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chateau_startup_replay_seconds", Help: "Time the start-up replay of the log took.",
		}),
		PasswordHashes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chateau_password_hashes_total", Help: "Argon2id password hashes computed (registrations and sign-ins).",
		}),
		LoginsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chateau_logins_refused_total",
			Help: "Registrations with a password refused (429) before hashing, by reason.",
		}, []string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.Online, m.Requests, m.RequestSeconds, m.Events, m.BatchEvents, m.CommitSeconds,
			m.Deliveries, m.SlowDisconnects, m.ReplaySeconds, m.PasswordHashes, m.LoginsRefused)
	}
	return m
}
