package reporter

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"golang.org/x/sys/unix"
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
	// ReplacementRequired: the host is tainted; Since says when.
	ReplacementRequired bool      `json:"replacement_required"`
	Since               time.Time `json:"since,omitzero"`
	BaselineID          string    `json:"baseline_id,omitempty"`
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
	Status           Status              `json:"status"`
	Reason           string              `json:"reason,omitempty"`
	BaselineID       string              `json:"baseline_id,omitempty"`
	BaselineVerified bool                `json:"baseline_verified"`
	Labels           map[string]string   `json:"labels,omitempty"`
	Root             string              `json:"root"`
	Scans            map[string]ScanJSON `json:"scans"`
	// Backend is how the daemon sees changes: "inotify", or "scan" alone.
	Backend    string               `json:"backend,omitempty"`
	Watch      WatchJSON            `json:"watch"`
	Packages   []PackageFindingJSON `json:"packages"`
	Findings   []TrackedJSON        `json:"findings"`
	Unverified []UnverifiedJSON     `json:"unverified"`
	// Pending are changed first-boot paths while the host is not sealed.
	Pending []FindingJSON `json:"pending"`
	// PackagesUnverified names the package databases that could not be read.
	PackagesUnverified []string    `json:"packages_unverified,omitempty"`
	SSH                SSHJSON     `json:"ssh"`
	Taint              Taint       `json:"taint"`
	Seal               SealJSON    `json:"seal"`
	Events             []EventJSON `json:"events"` // the most recent, oldest first
}

// SealJSON says whether the host's first-boot paths are sealed.
type SealJSON struct {
	Sealed bool      `json:"sealed"`
	Time   time.Time `json:"time,omitzero"`
	Paths  int       `json:"paths"`            // first-boot paths recorded
	Reason string    `json:"reason,omitempty"` // what the seal waits for, or why it went ahead
}

// SSHJSON is what the daemon knows of login sessions.
type SSHJSON struct {
	Source   string        `json:"source"` // sshd's log, the utmp file or logind's folder read; empty: none
	Sessions []SessionJSON `json:"sessions"`
	Logins   int           `json:"logins"` // remote logins seen since the daemon started
}

// SessionJSON is one remote login session. From utmp or logind it has a
// terminal; from sshd's log it has the port, method, key and sshd pid.
type SessionJSON struct {
	User       string `json:"user"`
	RemoteHost string `json:"remote_host"`
	RemotePort int    `json:"remote_port,omitempty"`
	TTY        string `json:"tty,omitempty"`
	Method     string `json:"method,omitempty"`
	Key        string `json:"key,omitempty"` // the accepted key's fingerprint
	SSHDPID    int    `json:"sshd_pid,omitempty"`
	// Session is the audit session id that links the login to the changes
	// made in it; absent when unknown.
	Session int       `json:"session,omitempty"`
	Started time.Time `json:"started"`
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
	// Attribution is the backend naming who made each change: ebpf,
	// fanotify or none.
	Attribution string `json:"attribution,omitempty"`
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
	Time  time.Time    `json:"time"`
	Event string       `json:"event"`
	Find  *FindingJSON `json:"finding,omitempty"`
	// FoundBy is how a new or changed finding was seen: in real time
	// ("watch"), or by a scan ("fast", "full").
	FoundBy string              `json:"found_by,omitempty"`
	Package *PackageFindingJSON `json:"package,omitempty"`
	Login   *SessionJSON        `json:"login,omitempty"`
	Taint   *TaintEventJSON     `json:"taint,omitempty"`
}

// LocalAPI is what the root-only socket serves: the daemon's full view,
// and the operator's two commands.
type LocalAPI interface {
	Status(ctx context.Context, path string) (StatusJSON, error)
	// ClearTaint clears the replacement latch for a reason, which the
	// events record; it returns the taint as it was.
	ClearTaint(ctx context.Context, reason string) (Taint, error)
	// Seal records the first-boot paths now; an error if already sealed.
	Seal(ctx context.Context) (SealJSON, error)
	// Containers is every container's drift; an error when containers
	// are not watched.
	Containers(ctx context.Context) ([]ContainerJSON, error)
}

// peerKey is the context key of the local socket peer's credentials.
type peerKey struct{}

// Peer is who is at the other end of a local API request: the kernel's
// word (SO_PEERCRED), not the client's.
type Peer struct {
	UID, PID int
	Known    bool
}

// WithPeer is an http.Server ConnContext for the unix socket: it records
// the peer's credentials, which the events of an operator's command name.
func WithPeer(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return ctx
	}
	var cred *unix.Ucred
	raw.Control(func(fd uintptr) { cred, err = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) })
	if err != nil || cred == nil {
		return ctx
	}
	return context.WithValue(ctx, peerKey{}, Peer{UID: int(cred.Uid), PID: int(cred.Pid), Known: true})
}

// PeerOf returns the local API peer of a request's context.
func PeerOf(ctx context.Context) Peer {
	p, _ := ctx.Value(peerKey{}).(Peer)
	return p
}

// NewLocalHandler serves the local API for `driftd status`, `driftd taint
// clear`, `driftd seal` and `driftd status --containers`: GET /v1/status
// (?path=P for one path's finding), POST /v1/taint/clear {"reason":
// "..."}, POST /v1/seal, GET /v1/containers.
func NewLocalHandler(api LocalAPI) http.Handler {
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, v any, err error, code int) {
		if err != nil {
			http.Error(w, err.Error(), code)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		s, err := api.Status(r.Context(), r.URL.Query().Get("path"))
		reply(w, s, err, http.StatusServiceUnavailable)
	})
	mux.HandleFunc("POST /v1/taint/clear", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Reason string `json:"reason"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Reason == "" {
			http.Error(w, "want a JSON body with a non-empty reason", http.StatusBadRequest)
			return
		}
		t, err := api.ClearTaint(r.Context(), req.Reason)
		reply(w, t, err, http.StatusConflict)
	})
	mux.HandleFunc("GET /v1/containers", func(w http.ResponseWriter, r *http.Request) {
		cs, err := api.Containers(r.Context())
		reply(w, cs, err, http.StatusServiceUnavailable)
	})
	mux.HandleFunc("POST /v1/seal", func(w http.ResponseWriter, r *http.Request) {
		s, err := api.Seal(r.Context())
		reply(w, s, err, http.StatusConflict)
	})
	// Profiles, for root on the host only: where the daemon spends memory
	// and time when a figure surprises.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	return mux
}
