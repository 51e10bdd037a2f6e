package agent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"driftd/baseline"
	"driftd/reporter"
)

// serveNetwork listens for /metrics and /healthz, with the exporter-toolkit
// web config (TLS, basic auth) when one is given.
func (d *Daemon) serveNetwork() (*http.Server, net.Addr, error) {
	addr := override(d.opts.ListenAddress, d.cfg.Web.ListenAddress)
	webConfig := override(d.opts.WebConfigFile, d.cfg.Web.ConfigFile)
	if webConfig != "" {
		if err := web.Validate(webConfig); err != nil {
			return nil, nil, fmt.Errorf("web config %s: %w", webConfig, err)
		}
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: reporter.NewHandler(d.metrics, d.healthz), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		err := web.Serve(l, srv, &web.FlagConfig{WebConfigFile: &webConfig}, d.log)
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("metrics server stopped", "err", err)
		}
	}()
	return srv, l.Addr(), nil
}

// DefaultSocket is the local API's socket when neither config nor flags say.
const DefaultSocket = "/run/driftd/driftd.sock"

// SocketPath is where the local API listens, for the daemon and every
// client command alike: driftd.sock in the state dir when --state-dir is
// given, else daemon.socket of the config, else DefaultSocket.
func SocketPath(configured, stateDirFlag string) string {
	switch {
	case stateDirFlag != "":
		return filepath.Join(stateDirFlag, "driftd.sock")
	case configured != "":
		return configured
	}
	return DefaultSocket
}

// serveLocal serves the full findings on a root-only unix socket.
func (d *Daemon) serveLocal() (*http.Server, string, error) {
	socket := SocketPath(d.cfg.Daemon.Socket, d.opts.StateDir)
	if err := os.MkdirAll(filepath.Dir(socket), 0o700); err != nil {
		return nil, "", fmt.Errorf("socket dir: %w", err)
	}
	os.Remove(socket) // a stale socket of an earlier run
	l, err := net.Listen("unix", socket)
	if err != nil {
		return nil, "", fmt.Errorf("listen on %s: %w", socket, err)
	}
	if err := os.Chmod(socket, 0o600); err != nil {
		l.Close()
		return nil, "", fmt.Errorf("socket %s: %w", socket, err)
	}
	srv := &http.Server{Handler: reporter.NewLocalHandler(localAPI{d}), ReadHeaderTimeout: 10 * time.Second, ConnContext: reporter.WithPeer}
	go srv.Serve(l)
	return srv, socket, nil
}

// health is what /healthz answers.
func (d *Daemon) healthz() reporter.Health {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.health
}

// publish updates what /healthz answers from the loop's state.
func (d *Daemon) publish() {
	h := reporter.Health{OK: true}
	switch t := d.latch.Taint; {
	case t.Tainted:
		h = reporter.Health{Reason: "replacement required: " + t.Reason, ReplacementRequired: true,
			Since: t.Since, BaselineID: t.BaselineID}
	case d.base == nil || !d.base.Verified:
		h = reporter.Health{OK: false, Reason: d.baseReason}
	}
	d.mu.Lock()
	d.health = h
	d.mu.Unlock()
}

// inLoop runs f in the loop, which alone may touch the state. The loop
// runs no walk or hash itself, so it answers at once.
func (d *Daemon) inLoop(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case d.requests <- func() { f(); close(done) }:
		<-done
		return nil
	case <-d.loopDone:
		return errors.New("driftd is stopping")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// localAPI serves the local socket's requests from the loop.
type localAPI struct{ d *Daemon }

// Status is the loop's view; path, when set, keeps only that finding.
func (a localAPI) Status(ctx context.Context, path string) (s reporter.StatusJSON, err error) {
	err = a.d.inLoop(ctx, func() { s = a.d.buildStatus(path) })
	return s, err
}

// ClearTaint clears the latch for reason.
func (a localAPI) ClearTaint(ctx context.Context, reason string) (was reporter.Taint, err error) {
	by := reporter.PeerOf(ctx)
	if lerr := a.d.inLoop(ctx, func() { was = *a.d.latch.Taint; err = a.d.clearTaint(reason, by) }); lerr != nil {
		return was, lerr
	}
	return was, err
}

// Containers is every container's drift, from the container monitor.
func (a localAPI) Containers(context.Context) ([]reporter.ContainerJSON, error) {
	if a.d.containers == nil {
		return nil, errors.New("containers are not watched: [containers] enabled = false in the config")
	}
	return a.d.containers.Snapshot()
}

// Seal seals the host now, and waits for the seal job.
func (a localAPI) Seal(ctx context.Context) (s reporter.SealJSON, err error) {
	reply := make(chan error, 1)
	by := peerAttr(reporter.PeerOf(ctx))
	if err := a.d.inLoop(ctx, func() { a.d.requestSeal("driftd seal", reply, by) }); err != nil {
		return s, err
	}
	select {
	case err = <-reply:
	case <-ctx.Done():
		return s, ctx.Err()
	}
	if err != nil {
		return s, err
	}
	err = a.d.inLoop(ctx, func() { s = a.d.sealJSON() })
	return s, err
}

// buildStatus is the loop's current view, for the local API; path, when
// set, keeps only that path's finding.
func (d *Daemon) buildStatus(path string) (s reporter.StatusJSON) {
	add := func(t *tracked) {
		s.Findings = append(s.Findings, reporter.TrackedJSON{FindingJSON: reporter.NewFindingJSON(&t.Finding), FirstSeen: t.FirstSeen})
	}
	s = reporter.StatusJSON{
		Root:             d.opts.Root,
		BaselineID:       d.baselineID(),
		BaselineVerified: d.base != nil && d.base.Verified,
		Reason:           d.baseReason,
		Scans:            map[string]reporter.ScanJSON{},
		Packages:         []reporter.PackageFindingJSON{},
		Findings:         []reporter.TrackedJSON{},
		Unverified:       []reporter.UnverifiedJSON{},
		Pending:          []reporter.FindingJSON{},
		Events:           []reporter.EventJSON{},
		SSH:              reporter.SSHJSON{Source: d.ssh.source, Sessions: []reporter.SessionJSON{}, Logins: d.ssh.logins},
		Taint:            *d.latch.Taint,
		Seal:             d.sealJSON(),
	}
	for mode, sc := range maps.All(d.scans) {
		s.Scans[string(mode)] = sc
	}
	for _, ss := range d.ssh.current {
		s.SSH.Sessions = append(s.SSH.Sessions, *sessionJSON(ss))
	}
	for _, l := range d.ssh.log.open {
		s.SSH.Sessions = append(s.SSH.Sessions, *reporter.NewLoginJSON(l))
	}
	slices.SortFunc(s.SSH.Sessions, func(a, b reporter.SessionJSON) int { return a.Started.Compare(b.Started) })
	if path == "" {
		s.Events = append(s.Events, d.history...)
	}
	if d.base != nil {
		s.Labels = d.base.Header.Labels
		for i := range d.pkgs.check.Findings {
			s.Packages = append(s.Packages, reporter.NewPackageFindingJSON(&d.pkgs.check.Findings[i], d.cfg.PackageSeverity()))
		}
		s.PackagesUnverified = d.pkgs.check.Unverified
		if path != "" {
			if t, ok := d.state.current[path]; ok {
				add(t)
			}
		} else {
			for _, t := range d.state.sorted() {
				add(t)
			}
		}
		for p, reason := range d.state.unverified {
			if path == "" || p == path {
				s.Unverified = append(s.Unverified, reporter.NewUnverifiedJSON(baseline.Unverified{Path: p, Reason: reason}))
			}
		}
		slices.SortFunc(s.Unverified, func(a, b reporter.UnverifiedJSON) int { return strings.Compare(a.Path, b.Path) })
		for p, f := range d.state.pending {
			if path == "" || p == path {
				s.Pending = append(s.Pending, reporter.NewFindingJSON(f))
			}
		}
		slices.SortFunc(s.Pending, func(a, b reporter.FindingJSON) int { return strings.Compare(a.Path, b.Path) })
	}
	for p, t := range d.tamper {
		if path == "" || p == path {
			add(t)
		}
	}
	if d.watch != nil {
		s.Watch = d.watch.stats()
	}
	switch {
	case len(d.tamper) > 0:
		s.Status = reporter.StatusDrift // driftd itself was tampered with, whatever else holds
	case !s.BaselineVerified || len(d.state.unverified) > 0 || len(s.PackagesUnverified) > 0:
		s.Status = reporter.StatusUnverified
	case !d.checked || !d.pkgs.read:
		s.Status = reporter.StatusStarting
	case len(d.state.current) > 0 || len(s.Packages) > 0:
		s.Status = reporter.StatusDrift
	case len(d.state.pending) > 0:
		s.Status = reporter.StatusUnsealed
	default:
		s.Status = reporter.StatusClean
	}
	return s
}
