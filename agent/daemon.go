package agent

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"driftd/agent/attrib"
	"driftd/agent/config"
	"driftd/agent/containers"
	"driftd/agent/imagebaseline"
	"driftd/agent/policy"
	"driftd/baseline"
	"driftd/baseline/check"
	"driftd/baseline/pkgdb"
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
	Scan          <-chan ScanMode // a value asks for a scan now (SIGUSR1 fast, SIGUSR2 full)
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
// and the scans, and serves what they find. Its loop only decides: every
// walk, hash and package read runs as a job off the loop and reports back.
type Daemon struct {
	opts    Options
	log     *slog.Logger
	events  *slog.Logger
	metrics *reporter.Metrics

	// Owned by the loop.
	cfg        *config.Loaded
	stateDir   string
	base       *baseline.Manifest // nil while the baseline is not verified
	baseReason string             // why it is not
	pipe       *check.Pipeline    // the baseline's pipeline; nil with no baseline
	state      *findings
	tamper     map[string]*tracked // findings about driftd itself, which no scan makes or clears
	pkgs       packages
	ssh        sessions
	latch      *policy.Latch
	guard      *stateGuard // the state dir: only the daemon writes there
	baseFile   string      // the baseline's file (host path), and its root-relative path
	baseRel    string
	baseStamp  stamp       // the file as loaded
	hook       *hookRunner // running the hook for the taint, if any
	sealWait   bool        // an unsealed host waiting for its window to close
	sealing    bool        // a seal job is running
	watch      *watcher
	containers *containers.Monitor // nil: containers are not watched
	history    []reporter.EventJSON
	scans      map[ScanMode]reporter.ScanJSON
	checked    bool            // the first full check is done
	scanning   bool            // a scan job is running
	pending    ScanMode        // a scan asked for while one ran
	rechecking bool            // a re-check job is running
	rechecked  map[string]bool // paths re-checked while a scan ran
	lastFree   time.Time       // when memory was last handed back after a burst
	lastActor  struct {        // the last writer named, and its actor
		w attrib.Writer
		a *baseline.Actor
	}
	unsaved    bool     // the findings changed since the state was saved
	backlog    []string // dirty paths not re-checked yet
	sinceFree  int      // changes committed since memory was last handed back
	addr       net.Addr // where /metrics listens
	socket     string   // the local API
	announced  bool     // READY sent
	scanDone   chan scanResult
	recheckEnd chan recheckResult
	pkgDone    chan packagesRead
	hookDone   chan policy.Attempt
	sealDone   chan sealResult
	jobs       sync.WaitGroup  // every job goroutine
	ctx        context.Context // the jobs' and the hook's: done at shutdown
	loopDone   chan struct{}   // closed when the loop has returned

	// requests carries the local API's requests to the loop, which alone
	// may touch the state: each runs there.
	requests chan func()

	mu     sync.Mutex // guards health, which /healthz reads
	health reporter.Health
}

// Run runs the daemon until ctx is done, then shuts it down: listeners
// closed, watcher closed, jobs stopped, state saved. A config that cannot
// be loaded or a listener that cannot bind is an error; a baseline that
// does not verify is not: the daemon runs, says so, and never says clean.
func Run(ctx context.Context, opts Options) error {
	cfg, err := config.Load(opts.ConfigPath)
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
		events:     slog.New(slog.NewJSONHandler(opts.Events, nil)),
		metrics:    reporter.NewMetrics(opts.Version, cfg.Metrics),
		state:      newFindings(),
		scans:      map[ScanMode]reporter.ScanJSON{},
		rechecked:  map[string]bool{},
		scanDone:   make(chan scanResult),
		recheckEnd: make(chan recheckResult),
		pkgDone:    make(chan packagesRead),
		hookDone:   make(chan policy.Attempt),
		sealDone:   make(chan sealResult),
		requests:   make(chan func()),
		loopDone:   make(chan struct{}),
	}
	d.stateDir = override(opts.StateDir, cfg.Daemon.StateDir)
	release, err := check.LockStateDir(d.stateDir) // makes the dir, or says why it cannot
	if err != nil {
		return err
	}
	defer release()

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

	jobCtx, cancelJobs := context.WithCancel(ctx)
	d.ctx = jobCtx
	defer func() {
		cancelJobs()
		d.stopHook()
		d.jobs.Wait()
		if d.watch != nil {
			d.watch.close()
		}
	}()

	d.addr, d.socket = addr, socket
	d.guard = newStateGuard(d.stateDir, d.log)
	defer d.guard.close()
	sessionsChanged, loginRecords, stopSessions := d.watchSessions(cfg.SSH)
	defer stopSessions()
	d.loadTaint()
	if loginRecords == nil {
		d.refreshSessions(ctx)
	}
	d.startContainers(jobCtx)
	d.setBaseline(d.pinned(d.loadBaseline(cfg)))
	d.checkState() // a file planted in the state dir while the daemon was down
	d.publish()
	if d.base != nil {
		d.start() // READY follows the first check
	} else {
		d.announce()
	}
	defer close(d.loopDone)
	return d.loop(ctx, sessionsChanged, loginRecords)
}

// startContainers runs the container monitor as a job, where the config
// turns it on. Containers are compared with their images, not with the
// host's baseline: they are watched whether or not that verifies.
func (d *Daemon) startContainers(ctx context.Context) {
	cc := d.cfg.Containers
	if !cc.Enabled {
		return
	}
	baked, err := imagebaseline.Reader(cc.TrustedKeys)
	if err != nil {
		// A trusted key that cannot be read: no baked baseline can be
		// verified, so each container's read fails and it is unverified.
		d.log.Error("containers: baselines baked in images are not read", "err", err)
		baked = func(fs.FS) (*containers.Baked, error) { return nil, err }
	}
	d.containers = containers.NewMonitor(cc, d.cfg.ContainerRules, containers.Options{
		Debounce: d.cfg.Watch.Debounce.Duration, Log: d.log, Events: d.events, Metrics: d.metrics.NewContainerMetrics(),
		Baked: baked, StateDir: filepath.Join(d.stateDir, containers.StateDirName),
	})
	d.jobs.Go(func() {
		if err := d.containers.Run(ctx); err != nil {
			d.log.Error("containers are not watched", "err", err)
		}
	})
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

// loop runs until ctx is done. It alone touches the daemon's state, and
// it does no I/O of its own beyond small state files: it decides, jobs do.
// sessionsChanged has a value when the login records may have changed;
// loginRecords brings the logins read from sshd's log.
func (d *Daemon) loop(ctx context.Context, sessionsChanged <-chan struct{}, loginRecords <-chan []loginRecord) error {
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
	var debounce, packagesSettled, stateSettled <-chan time.Time
	sealPoll := time.NewTicker(cloudInitPoll)
	defer sealPoll.Stop()
	for {
		var waitingForCloudInit <-chan time.Time
		if d.sealWait {
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
			d.reload()
		case <-d.guard.notify:
			if stateSettled == nil {
				stateSettled = time.After(d.cfg.Watch.Debounce.Duration)
			}
		case <-stateSettled:
			stateSettled = nil
			d.checkState()
		case mode := <-d.opts.Scan:
			d.requestScan(mode)
		case <-notify:
			if debounce == nil {
				debounce = time.After(d.cfg.Watch.Debounce.Duration)
			}
		case <-debounce:
			debounce = nil
			paths, overflow := d.watch.take()
			if overflow {
				d.requestScan(ModeFast)
			}
			if slices.ContainsFunc(paths, func(p string) bool { return pkgdb.InDatabase(p, d.pkgs.dbDirs) }) {
				packagesSettled = time.After(packageSettle)
			}
			if slices.ContainsFunc(paths, sshConfigPath) {
				d.deriveSSHPaths()
			}
			if slices.Contains(paths, d.baseRel) {
				d.checkBaselineFile()
			}
			d.backlog = append(d.backlog, paths...)
			d.requestRecheck()
		case r := <-d.recheckEnd:
			d.applyRecheck(r)
			d.requestRecheck() // what piled up meanwhile
		case <-fast.C:
			d.requestScan(ModeFast)
			fast.Reset(d.jittered(d.cfg.Schedule.FastInterval.Duration))
		case <-full.C:
			d.requestScan(ModeFull)
			full.Reset(d.jittered(d.cfg.Schedule.FullInterval.Duration))
		case <-packagesSettled:
			packagesSettled = nil
			d.requestPackages(false)
		case r := <-d.pkgDone:
			d.applyPackages(r)
		case <-sessionsChanged:
			d.refreshSessions(ctx)
		case recs := <-loginRecords:
			d.takeLogins(recs)
		case a := <-d.hookDone:
			d.hookAttempted(a)
		case <-waitingForCloudInit:
			d.pollSeal()
		case r := <-d.sealDone:
			d.applySeal(r)
		case r := <-d.scanDone:
			d.applyScan(r)
			if next := d.pending; next != "" {
				d.pending = ""
				d.requestScan(next)
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

func (d *Daemon) baselineID() string {
	if d.base == nil {
		return ""
	}
	return d.base.ID()
}
