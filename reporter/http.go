package reporter

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// WebConfig is the [web] section: the network listener for /metrics and
// /healthz.
type WebConfig struct {
	ListenAddress string `toml:"listen_address"`
	// ConfigFile is an exporter-toolkit web config (TLS, basic auth), the
	// same file node_exporter's --web.config.file takes.
	ConfigFile string `toml:"config_file"`
}

// Health is what /healthz answers.
type Health struct {
	OK     bool   `json:"ok"`
	Reason string `json:"reason,omitempty"`
}

// NewHandler serves /metrics from m and /healthz from health: 200, or 503
// with a JSON reason, for load balancer and autoscaling health checks.
func NewHandler(m *Metrics, health func() Health) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		h := health()
		w.Header().Set("Content-Type", "application/json")
		if !h.OK {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(h)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("driftd: see /metrics and /healthz\n"))
	})
	return mux
}

// StatusJSON is the daemon's full view, served on the local socket only:
// it names paths, which never leave the host through metrics.
type StatusJSON struct {
	Status           Status               `json:"status"`
	Reason           string               `json:"reason,omitempty"`
	BaselineID       string               `json:"baseline_id,omitempty"`
	BaselineVerified bool                 `json:"baseline_verified"`
	Labels           map[string]string    `json:"labels,omitempty"`
	Root             string               `json:"root"`
	Scans            map[string]ScanJSON  `json:"scans"`
	Watch            WatchJSON            `json:"watch"`
	Packages         []PackageFindingJSON `json:"packages"`
	Findings         []TrackedJSON        `json:"findings"`
	Unverified       []UnverifiedJSON     `json:"unverified"`
	// PackagesUnverified names the package databases that could not be read.
	PackagesUnverified []string    `json:"packages_unverified,omitempty"`
	SSH                SSHJSON     `json:"ssh"`
	Events             []EventJSON `json:"events"` // the most recent, oldest first
}

// SSHJSON is what the daemon knows of login sessions.
type SSHJSON struct {
	Source   string        `json:"source"` // the utmp file or logind's folder read; empty: neither
	Sessions []SessionJSON `json:"sessions"`
	Logins   int           `json:"logins"` // remote logins seen since the daemon started
}

// SessionJSON is one remote login session.
type SessionJSON struct {
	User       string    `json:"user"`
	RemoteHost string    `json:"remote_host"`
	TTY        string    `json:"tty,omitempty"`
	Started    time.Time `json:"started"`
}

// ScanJSON describes the last scan of one mode.
type ScanJSON struct {
	Finished        time.Time `json:"finished"`
	DurationSeconds float64   `json:"duration_seconds"`
	Entries         int       `json:"entries"`
}

// WatchJSON describes the realtime watch.
type WatchJSON struct {
	Directories int  `json:"directories"`
	Unwatched   int  `json:"unwatched"`
	Overflows   int  `json:"overflows"`
	Enabled     bool `json:"enabled"`
}

// TrackedJSON is a finding the daemon holds now, with when it was first seen.
type TrackedJSON struct {
	FindingJSON
	FirstSeen time.Time `json:"first_seen"`
}

// EventJSON is one change to the findings: a finding appeared ("drift"),
// changed ("changed") or went away ("reverted"), about a path or a
// package; or a remote login ("ssh_login").
type EventJSON struct {
	Time    time.Time           `json:"time"`
	Event   string              `json:"event"`
	Find    *FindingJSON        `json:"finding,omitempty"`
	Package *PackageFindingJSON `json:"package,omitempty"`
	Login   *SessionJSON        `json:"login,omitempty"`
}

// NewLocalHandler serves the daemon's full view for `driftd status`:
// GET /v1/status, or GET /v1/status?path=P for one path's finding.
func NewLocalHandler(status func(ctx context.Context, path string) (StatusJSON, error)) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		s, err := status(r.Context(), r.URL.Query().Get("path"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s)
	})
	// Profiles, for root on the host only: where the daemon spends memory
	// and time when a figure surprises.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	return mux
}
