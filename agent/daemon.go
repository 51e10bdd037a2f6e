package agent

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/exporter-toolkit/web"

	"driftd/baseline"
	"driftd/reporter"
)

// Options are what the command line adds to the config.
type Options struct {
	ConfigPath    string // empty: the embedded default
	Root          string
	BaselinePath  string // empty: baseline.path of the config, inside Root
	PubkeyPath    string // empty: baseline.public_key of the config, inside Root
	Insecure      bool   // lab use: do not check the baseline's signature
	StateDir      string // empty: daemon.state_dir of the config
	ListenAddress string // empty: web.listen_address of the config
	WebConfigFile string // empty: web.config_file of the config
	Version       string
	Reload        <-chan struct{} // a value asks for a reload (SIGHUP)
	Events        io.Writer       // JSON events, one per finding change
	Log           *slog.Logger
	// Ready, when set, is called with the network address once the daemon
	// serves and has finished its first check (or found its baseline
	// unverified).
	Ready func(addr net.Addr)
}

// historySize is how many recent events the local API keeps.
const historySize = 256

// Daemon is a running driftd: it owns the findings state, the watcher
// and the scans, and serves what they find.
type Daemon struct {
	opts    Options
	log     *slog.Logger
	events  *slog.Logger
	metrics *reporter.Metrics

	// Owned by the loop.
	cfg        *Loaded
	stateDir   string
	base       *baseline.Manifest // nil while the baseline is not verified
	baseReason string             // why it is not
	rules      *baseline.Rules    // the config's, with the SSH paths of the baseline and the root
	sshPaths   []string           // those SSH paths
	state      *findings
	pkgs       packages
	ssh        sessions
	taint      *reporter.Taint
	hook       *hookRunner // running the hook for the taint, if any
	seal       sealing
	watch      *watcher
	history    []reporter.EventJSON
	scans      map[string]reporter.ScanJSON
	checked    bool            // the first full check is done
	scanning   bool            // a scan goroutine is running
	pending    string          // a scan asked for while one ran: "fast" or "full"
	rechecked  map[string]bool // paths re-checked while a scan ran
	lastFree   time.Time       // when memory was last handed back after a burst
	unsaved    bool            // the findings changed since the state was saved
	backlog    []string        // dirty paths not re-checked yet
	sinceFree  int             // changes committed since memory was last handed back
	addr       net.Addr        // where /metrics listens
	socket     string          // the local API
	announced  bool            // READY sent
	scanDone   chan scanResult
	pkgDone    chan packagesRead
	hookDone   chan hookAttempt
	scanWG     sync.WaitGroup
	ctx        context.Context // the scans' and the hook's: done at shutdown
	loopDone   chan struct{}   // closed when the loop has returned

	// requests carries the local API's requests to the loop, which alone
	// may touch the state: each runs there.
	requests chan func()

	mu     sync.Mutex // guards health, which /healthz reads
	health reporter.Health
}

type scanResult struct {
	mode    string
	res     baseline.Result
	entries int
	started time.Time
	took    time.Duration
	err     error
}

// Run runs the daemon until ctx is done, then shuts it down: listeners
// closed, watcher closed, scans stopped, state saved. A config that cannot
// be loaded or a listener that cannot bind is an error; a baseline that
// does not verify is not: the daemon runs, says so, and never says clean.
func Run(ctx context.Context, opts Options) error {
	cfg, err := LoadConfig(opts.ConfigPath)
	if err != nil {
		return err
	}
	// The live heap is mostly the baseline, and what a re-check allocates
	// is short-lived: a low GC target keeps the RSS near the live heap
	// (at 100, a burst of changes could double it) for a little more GC
	// work, which an idle daemon does not do.
	debug.SetGCPercent(25)
	d := &Daemon{
		opts: opts, log: opts.Log, cfg: cfg,
		events:    slog.New(slog.NewJSONHandler(opts.Events, nil)),
		metrics:   reporter.NewMetrics(opts.Version, cfg.Metrics),
		state:     newFindings(),
		scans:     map[string]reporter.ScanJSON{},
		rechecked: map[string]bool{},
		scanDone:  make(chan scanResult),
		pkgDone:   make(chan packagesRead),
		hookDone:  make(chan hookAttempt),
		requests:  make(chan func()),
		loopDone:  make(chan struct{}),
	}
	d.stateDir = override(opts.StateDir, cfg.Daemon.StateDir)
	if err := os.MkdirAll(d.stateDir, 0o700); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}

	httpSrv, addr, err := d.serveNetwork()
	if err != nil {
		return err
	}
	localSrv, socket, err := d.serveLocal()
	if err != nil {
		httpSrv.Close()
		return err
	}
	defer func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		httpSrv.Shutdown(shutdownCtx)
		localSrv.Shutdown(shutdownCtx)
		os.Remove(socket)
	}()

	scanCtx, cancelScans := context.WithCancel(ctx)
	d.ctx = scanCtx
	defer func() {
		cancelScans()
		d.stopHook()
		d.scanWG.Wait()
		if d.watch != nil {
			d.watch.close()
		}
	}()

	d.addr, d.socket = addr, socket
	sessionsChanged := newSessionWatcher(cfg.SSH, d.log)
	defer sessionsChanged.close()
	d.loadTaint()
	d.refreshSessions(ctx)
	d.setBaseline(d.loadBaseline(cfg))
	d.publish()
	if d.base != nil {
		d.start(scanCtx) // READY follows the first check
	} else {
		d.announce()
	}
	defer close(d.loopDone)
	return d.loop(ctx, scanCtx, sessionsChanged.notify)
}

// announce says the daemon is up and has a verdict: the first check is
// done, or there is no verified baseline to check against.
func (d *Daemon) announce() {
	if d.announced {
		return
	}
	d.announced = true
	d.log.Info("driftd running", "root", d.opts.Root, "metrics", d.addr.String(), "socket", d.socket,
		"baseline_id", d.baselineID(), "baseline_verified", d.base != nil)
	daemon.SdNotify(false, daemon.SdNotifyReady)
	if d.opts.Ready != nil {
		d.opts.Ready(d.addr)
	}
}

// override is a flag's value when it was given, else the config's.
func override(flag, config string) string {
	if flag != "" {
		return flag
	}
	return config
}

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

// serveLocal serves the full findings on a root-only unix socket.
func (d *Daemon) serveLocal() (*http.Server, string, error) {
	socket := d.cfg.Daemon.Socket
	switch {
	case d.opts.StateDir != "":
		socket = filepath.Join(d.opts.StateDir, "driftd.sock")
	case socket == "":
		socket = DefaultSocket
	}
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
	srv := &http.Server{Handler: reporter.NewLocalHandler(localAPI{d}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	return srv, socket, nil
}

// DefaultSocket is the local API's socket when neither config nor flags say.
const DefaultSocket = "/run/driftd/driftd.sock"

// SocketPath is where `driftd status` finds the daemon of a state dir.
func SocketPath(stateDir string) string {
	if stateDir == "" {
		return DefaultSocket
	}
	return filepath.Join(stateDir, "driftd.sock")
}

// loadBaseline reads and verifies the baseline a config names.
func (d *Daemon) loadBaseline(cfg *Loaded) (*baseline.Manifest, error) {
	manifest := override(d.opts.BaselinePath, filepath.Join(d.opts.Root, cfg.Baseline.Path))
	var pub ed25519.PublicKey
	if !d.opts.Insecure {
		var err error
		if pub, err = baseline.LoadPublicKey(override(d.opts.PubkeyPath, filepath.Join(d.opts.Root, cfg.Baseline.PublicKey))); err != nil {
			return nil, err
		}
	}
	return baseline.ReadManifest(manifest, pub)
}

// setBaseline puts a loaded baseline in force, or records why there is none.
func (d *Daemon) setBaseline(m *baseline.Manifest, err error) {
	if err != nil {
		d.base, d.baseReason = nil, "baseline not verified: "+err.Error()
		d.log.Error("baseline not verified: driftd runs but vouches for nothing", "err", err)
		d.metrics.BaselineVerified.Set(0)
		return
	}
	d.base, d.baseReason = m, ""
	d.pkgs = packages{dbDirs: baseline.PackageDatabaseDirs(d.opts.Root)}
	d.setSSHPaths(baseline.MergeSSHPaths(m.Header.SSHPaths, baseline.SSHPaths(d.opts.Root)))
	d.startSeal()
	if !m.Verified {
		d.baseReason = "baseline signature not checked (--insecure-skip-signature-check)"
	}
	d.metrics.SetBaseline(m.ID(), m.Header.Labels)
	d.metrics.BaselineVerified.Set(map[bool]float64{true: 1}[m.Verified])
}

func (d *Daemon) baselineID() string {
	if d.base == nil {
		return ""
	}
	return d.base.ID()
}

func (d *Daemon) statePath() string { return filepath.Join(d.stateDir, "findings.json") }

// start begins monitoring under a verified baseline: restore the state,
// watch, and start the first full check. The loop serves the local API
// meanwhile (status "starting").
func (d *Daemon) start(ctx context.Context) {
	d.state = newFindings()
	if err := d.state.load(d.statePath(), d.base.ID()); err != nil {
		d.log.Warn("findings state not restored: findings will be announced as new", "err", err)
	}
	if d.cfg.Watch.Enabled && d.watch == nil {
		w, err := newWatcher(d.opts.Root, d.cfg.Watch.MaxDirectories, d.log, d.metrics)
		if err != nil {
			d.log.Error("cannot watch: relying on the fast scan", "err", err)
		} else {
			d.watch = w
		}
	}
	if d.watch != nil {
		// The package databases are watched even where the rules leave
		// them out: a package change must show within seconds.
		d.watch.add(d.pkgs.dbDirs)
	}
	// Watches are added as the first check walks, so a change during it
	// is caught; nothing is reported clean until it is done.
	d.checked = false
	d.requestScan(ctx, "full")
}

// loop runs until ctx is done. It alone touches the daemon's state.
// sessionsChanged has a value when the login records may have changed.
func (d *Daemon) loop(ctx, scanCtx context.Context, sessionsChanged <-chan struct{}) error {
	fast := time.NewTimer(d.jittered(d.cfg.Schedule.FastInterval.Duration))
	full := time.NewTimer(d.jittered(d.cfg.Schedule.FullInterval.Duration))
	defer fast.Stop()
	defer full.Stop()
	var watchdog <-chan time.Time
	if interval, err := daemon.SdWatchdogEnabled(false); err == nil && interval > 0 {
		t := time.NewTicker(interval / 2)
		defer t.Stop()
		watchdog = t.C
	}
	saveTick := time.NewTicker(saveEvery)
	defer saveTick.Stop()
	var debounce, packagesSettled <-chan time.Time
	sealPoll := time.NewTicker(cloudInitPoll)
	defer sealPoll.Stop()
	for {
		var waitingForCloudInit <-chan time.Time
		if !d.seal.deadline.IsZero() {
			waitingForCloudInit = sealPoll.C
		}
		var notify chan struct{}
		if d.watch != nil {
			notify = d.watch.notify
		}
		select {
		case <-ctx.Done():
			d.save()
			d.log.Info("driftd stopping")
			return nil
		case <-saveTick.C:
			d.save()
			d.handBack(0)
		case <-d.opts.Reload:
			d.reload(scanCtx)
		case <-notify:
			if debounce == nil {
				debounce = time.After(d.cfg.Watch.Debounce.Duration)
			}
		case <-debounce:
			debounce = nil
			paths, overflow := d.watch.take()
			if overflow {
				d.requestScan(scanCtx, "fast")
			}
			if slices.ContainsFunc(paths, func(p string) bool { return baseline.InPackageDatabase(p, d.pkgs.dbDirs) }) {
				packagesSettled = time.After(packageSettle)
			}
			if slices.ContainsFunc(paths, sshConfigPath) {
				d.deriveSSHPaths(scanCtx)
			}
			// A storm is taken a bounded batch at a time: the loop stays
			// responsive, and a batch's memory stays small.
			d.backlog = append(d.backlog, paths...)
			n := min(len(d.backlog), recheckBatch)
			d.recheck(scanCtx, d.backlog[:n])
			d.backlog = slices.Delete(d.backlog, 0, n)
			if len(d.backlog) > 0 {
				debounce = now
			}
		case <-fast.C:
			d.requestScan(scanCtx, "fast")
			fast.Reset(d.jittered(d.cfg.Schedule.FastInterval.Duration))
		case <-full.C:
			d.requestScan(scanCtx, "full")
			full.Reset(d.jittered(d.cfg.Schedule.FullInterval.Duration))
		case <-packagesSettled:
			packagesSettled = nil
			d.requestPackages(scanCtx, false)
		case r := <-d.pkgDone:
			d.applyPackages(scanCtx, r)
		case <-sessionsChanged:
			d.refreshSessions(ctx)
		case a := <-d.hookDone:
			d.hookAttempted(a)
		case <-waitingForCloudInit:
			d.pollSeal()
		case r := <-d.scanDone:
			d.applyScan(scanCtx, r)
			if next := d.pending; next != "" {
				d.pending = ""
				d.requestScan(scanCtx, next)
			}
		case req := <-d.requests:
			req()
		case <-watchdog:
			daemon.SdNotify(false, daemon.SdNotifyWatchdog)
		}
	}
}

// jittered stretches or shrinks an interval by up to the configured
// fraction, so that a fleet's hosts do not scan in lockstep.
func (d *Daemon) jittered(interval time.Duration) time.Duration {
	j := d.cfg.Schedule.Jitter
	return time.Duration(float64(interval) * (1 + j*(2*rand.Float64()-1)))
}

// requestScan starts a scan, or queues it behind the one running (a full
// scan covers a fast one).
func (d *Daemon) requestScan(ctx context.Context, mode string) {
	if d.base == nil {
		return
	}
	if d.scanning {
		if d.pending != "full" {
			d.pending = mode
		}
		return
	}
	d.scanning = true
	scan := d.scanner(ctx, mode)
	d.scanWG.Go(func() {
		r := scan()
		select {
		case d.scanDone <- r:
		case <-ctx.Done():
		}
	})
}

// scanner returns a scan of the whole root with what is in force now. A
// fast scan reads only what changed since the bake; a full scan reads
// everything, at the configured rate. The scan adds watches as it goes.
func (d *Daemon) scanner(ctx context.Context, mode string) func() scanResult {
	base, entries, rules, cfg, watch := d.base, d.base.Entries, d.rules, d.cfg, d.watch
	w := &baseline.Walker{
		Root:             d.opts.Root,
		Rules:            rules,
		Workers:          cfg.Scan.WorkerCount(),
		CrossFilesystems: cfg.Scan.CrossFilesystems,
	}
	if mode == "fast" {
		w.Known = baseline.KnownFrom(base.Entries)
	} else {
		w.BytesPerSecond = cfg.Schedule.FullScanBytesPerSecond
	}
	return func() scanResult {
		start := time.Now()
		res, n, err := baseline.CompareWalk(ctx, w, entries, "/", func(batch []baseline.Entry) {
			if watch != nil {
				watch.add(dirsIn(batch))
			}
		})
		return scanResult{mode: mode, res: res, entries: n, started: start, took: time.Since(start), err: err}
	}
}

// dirsIn lists the directories in a batch of entries, to be watched.
func dirsIn(batch []baseline.Entry) []string {
	var dirs []string
	for i := range batch {
		if batch[i].Type == baseline.TypeDir {
			dirs = append(dirs, batch[i].Path)
		}
	}
	return dirs
}

// applyScan takes a whole-root comparison into the state. Paths re-checked
// while the scan ran are re-checked again: the scan may have read them
// before they changed.
func (d *Daemon) applyScan(ctx context.Context, r scanResult) {
	d.scanning = false
	if r.err != nil {
		if !errors.Is(r.err, context.Canceled) {
			d.metrics.ScanErrors.Inc()
			d.log.Error("scan failed", "mode", r.mode, "err", r.err)
			d.announce() // up, though without a verdict: status stays "starting"
		}
		return
	}
	if len(r.res.Unverified) > 0 {
		d.metrics.ScanErrors.Inc()
	}
	d.commit(scopes{"/": true}, r.res)
	d.checked = true
	d.requestPackages(ctx, false)
	if d.pkgs.read {
		defer d.announce()
	} // else the first read of the package databases announces

	// A whole-root scan leaves its garbage at the heap's peak; give it back
	// to the host now rather than at the runtime's leisure.
	debug.FreeOSMemory()
	d.recordScan(r.mode, r.started.Add(r.took), r.took, r.entries)
	if len(d.rechecked) > 0 {
		var again []string
		for p := range d.rechecked {
			again = append(again, p)
		}
		clear(d.rechecked)
		d.recheck(ctx, topMost(again))
	}
	d.publish()
}

// recheck walks and compares each dirty path (and what is below it),
// watches the directories it finds there, and commits them together.
func (d *Daemon) recheck(ctx context.Context, paths []string) {
	if d.base == nil || len(paths) == 0 {
		return
	}
	start := time.Now()
	w := &baseline.Walker{Root: d.opts.Root, Rules: d.rules, Workers: 1, CrossFilesystems: d.cfg.Scan.CrossFilesystems}
	entries := 0
	done := scopes{}
	var res baseline.Result
	for _, p := range paths {
		var dirs []string
		r, n, err := baseline.CompareWalk(ctx, w, d.base.Entries, p, func(batch []baseline.Entry) {
			dirs = append(dirs, dirsIn(batch)...)
		})
		entries += n
		if err != nil {
			d.log.Error("re-check failed", "path", p, "err", err)
			d.metrics.ScanErrors.Inc()
			continue
		}
		res.Findings = append(res.Findings, r.Findings...)
		res.Unverified = append(res.Unverified, r.Unverified...)
		done[p] = true
		if d.watch != nil && len(dirs) > 0 {
			d.watch.add(dirs)
		}
		if d.scanning {
			d.rechecked[p] = true
		}
	}
	d.commit(done, res)
	d.handBack(1000)
	d.recordScan("watch", time.Now(), time.Since(start), entries)
}

// recordScan keeps a scan's figures for the status and the metrics.
func (d *Daemon) recordScan(mode string, finished time.Time, took time.Duration, entries int) {
	d.scans[mode] = reporter.ScanJSON{Finished: finished, DurationSeconds: took.Seconds(), Entries: entries}
	d.metrics.LastScan.WithLabelValues(mode).Set(float64(finished.Unix()))
	d.metrics.ScanDuration.WithLabelValues(mode).Set(took.Seconds())
}

// commit takes the comparison of the scopes into the state, announces what
// changed, and updates the metrics and the saved state.
func (d *Daemon) commit(scope scopes, res baseline.Result) {
	res.Findings = d.unsealed(res.Findings)
	d.pkgs.check.Explain(res.Findings) // their packages, and what accounts for each
	changes := d.state.apply(scope, res, time.Now())
	id := d.base.ID()
	keepFrom := len(changes) - historySize // only the last ones stay in the history
	for i, c := range changes {
		f := &c.Finding
		path, path64 := reporter.RawString(f.Path)
		attrs := []slog.Attr{
			slog.String("path", path), slog.String("kind", f.Kind.String()), slog.Any("changes", f.Changes.Names()),
			slog.String("category", f.Rule.Category), slog.String("severity", f.Rule.Severity.String()),
			slog.String("rule", f.Rule.Pattern), slog.String("baseline_id", id), slog.Time("first_seen", c.FirstSeen),
		}
		if path64 != "" {
			attrs = append(attrs, slog.String("path_base64", path64))
		}
		if f.Owner != nil {
			attrs = append(attrs, slog.String("package", f.Owner.Name))
		}
		if e := f.ExplainedBy; e != nil {
			attrs = append(attrs, slog.Group("explained_by", "manager", e.Manager, "package", e.Package, "before", e.Before, "after", e.After))
		} else if f.ByHand {
			attrs = append(attrs, slog.Bool("by_hand", true))
		}
		d.events.LogAttrs(context.Background(), eventLevel(c), c.Event, attrs...)
		if c.Event == "drift" {
			d.metrics.DriftEvents.WithLabelValues(f.Rule.Category, f.Kind.String()).Inc()
		}
		if c.Event != "reverted" {
			d.taintFinding(f)
		}
		if i >= keepFrom {
			j := reporter.NewFindingJSON(f)
			d.remember(reporter.EventJSON{Time: time.Now(), Event: c.Event, Find: &j})
		}
	}
	counts := map[[2]string]int{}
	for _, t := range d.state.current {
		counts[[2]string{t.Rule.Category, t.Rule.Severity.String()}]++
	}
	d.metrics.SetDrift(counts)
	d.metrics.UnverifiedPaths.Set(float64(len(d.state.unverified)))
	if len(changes) > 0 {
		d.unsaved = true
		d.sinceFree += len(changes)
	}
}

// remember keeps an event in the recent history the local API serves.
func (d *Daemon) remember(e reporter.EventJSON) {
	if len(d.history) >= historySize {
		d.history = append(d.history[:0], d.history[len(d.history)-historySize+1:]...)
	}
	d.history = append(d.history, e)
}

// handBack returns memory to the host after more than minChanges changes
// (a storm leaves garbage the runtime would give back slowly), at most
// every 2 s; the save tick calls it with 0 to catch the end of a burst.
func (d *Daemon) handBack(minChanges int) {
	if d.sinceFree > minChanges && time.Since(d.lastFree) > 2*time.Second {
		debug.FreeOSMemory()
		d.lastFree, d.sinceFree = time.Now(), 0
	}
}

// recheckBatch bounds the dirty paths re-checked in one turn of the loop.
const recheckBatch = 2000

// now is a channel that is always ready, for "next turn of the loop".
var now = func() <-chan time.Time {
	c := make(chan time.Time)
	close(c)
	return c
}()

// saveEvery is how often changed findings are written to the state dir: a
// crash loses at most that much of the first-seen times (such findings are
// announced again after the restart); a storm of changes does not rewrite
// the state file on every batch.
const saveEvery = 5 * time.Second

// save writes the findings to the state dir if they changed.
func (d *Daemon) save() {
	if !d.unsaved || d.base == nil {
		return
	}
	if err := d.state.save(d.statePath(), d.base.ID()); err != nil {
		d.log.Error("findings state not saved", "err", err)
		return
	}
	d.unsaved = false
}

func eventLevel(c Change) slog.Level {
	if c.Event == "reverted" {
		return slog.LevelInfo
	}
	return slog.LevelWarn
}

// reload loads the config and the baseline again. Only when both are good
// do they replace the ones in force; a bad reload keeps the old ones and
// sets driftd_config_last_reload_successful to 0.
func (d *Daemon) reload(ctx context.Context) {
	cfg, err := LoadConfig(d.opts.ConfigPath)
	var m *baseline.Manifest
	if err == nil {
		m, err = d.loadBaseline(cfg)
	}
	if err != nil {
		d.metrics.ConfigReloadSuccessful.Set(0)
		d.log.Error("reload failed: the previous config and baseline stay in force", "err", err)
		return
	}
	changed := d.base == nil || m.Digest != d.base.Digest
	d.cfg = cfg
	d.setBaseline(m, nil)
	d.requestPackages(ctx, true)
	d.metrics.ConfigReloadSuccessful.Set(1)
	d.log.Info("reloaded", "config", cfg.Name, "baseline_id", m.ID())
	if changed && !d.scanning {
		d.start(ctx) // a new image's baseline: its own state, a first check
		d.announce()
	} else {
		d.requestScan(ctx, "fast") // the rules may have changed the scope
	}
	d.publish()
}

// health is what /healthz answers.
func (d *Daemon) healthz() reporter.Health {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.health
}

// inLoop runs f in the loop, which alone may touch the state; it waits
// while the loop is busy (the first check, a burst of re-checks) until the
// request is given up.
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
	if lerr := a.d.inLoop(ctx, func() { was = *a.d.taint; err = a.d.clearTaint(reason) }); lerr != nil {
		return was, lerr
	}
	return was, err
}

// Seal seals the host now.
func (a localAPI) Seal(ctx context.Context) (s reporter.SealJSON, err error) {
	if lerr := a.d.inLoop(ctx, func() {
		if a.d.base == nil {
			err = errors.New("no verified baseline: nothing to seal against")
			return
		}
		if err = a.d.sealNow("driftd seal"); err == nil {
			s = a.d.sealJSON()
		}
	}); lerr != nil {
		return s, lerr
	}
	return s, err
}

// publish updates what /healthz answers from the loop's state.
func (d *Daemon) publish() {
	h := reporter.Health{OK: true}
	switch {
	case d.taint != nil && d.taint.Tainted:
		h = reporter.Health{Reason: "replacement required: " + d.taint.Reason, ReplacementRequired: true,
			Since: d.taint.Since, BaselineID: d.taint.BaselineID}
	case d.base == nil || !d.base.Verified:
		h = reporter.Health{OK: false, Reason: d.baseReason}
	}
	d.mu.Lock()
	d.health = h
	d.mu.Unlock()
}

// buildStatus is the loop's current view, for the local API; path, when
// set, keeps only that path's finding.
func (d *Daemon) buildStatus(path string) reporter.StatusJSON {
	s := reporter.StatusJSON{
		Root:             d.opts.Root,
		BaselineID:       d.baselineID(),
		BaselineVerified: d.base != nil && d.base.Verified,
		Reason:           d.baseReason,
		Scans:            maps.Clone(d.scans),
		Packages:         []reporter.PackageFindingJSON{},
		Findings:         []reporter.TrackedJSON{},
		Unverified:       []reporter.UnverifiedJSON{},
		Events:           []reporter.EventJSON{},
		SSH:              reporter.SSHJSON{Source: d.ssh.source, Sessions: []reporter.SessionJSON{}, Logins: d.ssh.logins},
		Taint:            *d.taint,
		Seal:             d.sealJSON(),
	}
	for _, ss := range d.ssh.current {
		s.SSH.Sessions = append(s.SSH.Sessions, *sessionJSON(ss))
	}
	if path == "" {
		s.Events = append(s.Events, d.history...)
	}
	if d.base != nil {
		s.Labels = d.base.Header.Labels
		for i := range d.pkgs.check.Findings {
			s.Packages = append(s.Packages, reporter.NewPackageFindingJSON(&d.pkgs.check.Findings[i], d.cfg.PackageSeverity()))
		}
		s.PackagesUnverified = d.pkgs.check.Unverified
		add := func(t *tracked) {
			s.Findings = append(s.Findings, reporter.TrackedJSON{FindingJSON: reporter.NewFindingJSON(&t.Finding), FirstSeen: t.FirstSeen})
		}
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
	}
	if d.watch != nil {
		s.Watch = d.watch.stats()
	}
	switch {
	case !s.BaselineVerified || len(d.state.unverified) > 0 || len(s.PackagesUnverified) > 0:
		s.Status = reporter.StatusUnverified
	case !d.checked || !d.pkgs.read:
		s.Status = reporter.StatusStarting
	case len(d.state.current) > 0 || len(s.Packages) > 0:
		s.Status = reporter.StatusDrift
	default:
		s.Status = reporter.StatusClean
	}
	return s
}

// sshConfigPath reports whether a changed path may change the SSH paths
// derived from the root: the users, or the sshd config.
func sshConfigPath(p string) bool {
	return p == "/etc/passwd" || p == "/etc/ssh" || strings.HasPrefix(p, "/etc/ssh/")
}

// setSSHPaths puts rules for the SSH paths in force.
func (d *Daemon) setSSHPaths(paths []string) {
	rules, err := d.cfg.Rules.WithSSH(paths)
	if err != nil {
		d.log.Error("derived SSH paths not watched", "err", err)
		rules = d.cfg.Rules
	}
	d.rules, d.sshPaths = rules, paths
}

// deriveSSHPaths derives the SSH paths again after the users or the sshd
// config changed; new paths are scanned at once.
func (d *Daemon) deriveSSHPaths(ctx context.Context) {
	if d.base == nil {
		return
	}
	paths := baseline.MergeSSHPaths(d.base.Header.SSHPaths, baseline.SSHPaths(d.opts.Root))
	if slices.Equal(paths, d.sshPaths) {
		return
	}
	d.setSSHPaths(paths)
	d.log.Info("SSH paths changed with the users or the sshd config: scanning", "paths", len(paths))
	d.requestScan(ctx, "fast")
}
