package containers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/sys/unix"

	"driftd/baseline"
	"driftd/reporter"
)

// Monitor watches the drift of every container on the host. Run owns its
// goroutines and the containers' state; Snapshot may be called from any
// goroutine.
type Monitor struct {
	cfg      Config
	rules    *baseline.Rules
	opts     Options
	debounce time.Duration
	log      *slog.Logger
	events   *slog.Logger
	metrics  *reporter.ContainerMetrics
	fsw      *fsnotify.Watcher
	hooks    sync.WaitGroup

	// mu guards the maps below and each container's state: the event
	// reader marks paths dirty, Snapshot reads, the loop changes them.
	// It is never held across a walk.
	mu         sync.Mutex
	containers map[string]*container // by upper directory (host path)
	dirs       map[string]*container // each watched directory (host path)
	overflow   bool                  // events were lost: walk every container again
	// unknown says why the monitor cannot tell which containers run (the
	// mount table unread, no watch): no container list is then complete.
	unknown string
	notify  chan struct{} // has a value when something is dirty
}

// Options are what a monitor is given besides its config.
type Options struct {
	Debounce    time.Duration // the host watch's
	Log, Events *slog.Logger  // events are JSON, one per change of a container's findings
	Metrics     *reporter.ContainerMetrics
	// Baked reads the baseline an image ships; nil reads none.
	Baked BakedReader
	// StateDir keeps each container's record (its first-boot seal, its
	// mark for replacement) across restarts; "" keeps them in memory only.
	StateDir string
}

// NewMonitor makes a monitor for cfg, whose rules are cfg.Validate's.
func NewMonitor(cfg Config, rules *baseline.Rules, opts Options) *Monitor {
	return &Monitor{
		cfg: cfg, rules: rules, opts: opts,
		debounce: opts.Debounce, log: opts.Log, events: opts.Events, metrics: opts.Metrics,
		containers: map[string]*container{}, dirs: map[string]*container{},
		notify: make(chan struct{}, 1), unknown: "the mount table is not read yet",
	}
}

// Run discovers and watches containers until ctx is done. It fails only
// when it cannot watch at all.
func (m *Monitor) Run(ctx context.Context) error {
	fsw, err := fsnotify.NewBufferedWatcher(4096)
	if err != nil {
		m.mu.Lock()
		m.unknown = fmt.Sprintf("cannot watch: %v", err)
		m.mu.Unlock()
		return err
	}
	m.fsw = fsw
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		m.read()
	}()
	mountsChanged := make(chan struct{}, 1)
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		m.pollMounts(ctx, mountsChanged)
	}()
	defer func() {
		fsw.Close()
		<-readerDone
		<-pollDone
		m.hooks.Wait()
	}()

	tick := time.NewTicker(m.cfg.Interval.Duration)
	defer tick.Stop()
	gc := time.NewTicker(5 * time.Minute)
	defer gc.Stop()
	if m.opts.StateDir != "" {
		dropStaleRecords(m.opts.StateDir)
	}
	m.discover(ctx)
	var debounce <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-gc.C:
			if m.opts.StateDir != "" {
				dropStaleRecords(m.opts.StateDir)
			}
		case <-tick.C:
			m.discover(ctx)
			m.sealDue(ctx, time.Now())
		case <-mountsChanged:
			m.discover(ctx)
		case <-m.notify:
			if debounce == nil {
				debounce = time.After(m.debounce)
			}
		case <-debounce:
			debounce = nil
			m.recheck(ctx)
		}
	}
}

// pollMounts signals each change of the mount table: the kernel marks
// the table's file with POLLPRI when a mount comes or goes, so a
// container is found when its rootfs is mounted, not at the next tick.
func (m *Monitor) pollMounts(ctx context.Context, changed chan<- struct{}) {
	fd, err := unix.Open(m.cfg.MountInfo, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return // the ticker alone then
	}
	defer unix.Close(fd)
	for ctx.Err() == nil {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLPRI}}
		n, err := unix.Poll(fds, 250)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		if n > 0 && fds[0].Revents&(unix.POLLPRI|unix.POLLERR) != 0 {
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	}
}

// discover reads the mount table and takes in the containers that came
// and drops those that went.
func (m *Monitor) discover(ctx context.Context) {
	mounts, err := readMounts(m.cfg.MountInfo, m.cfg.HostRoot)
	if err != nil {
		m.mu.Lock()
		was := m.unknown
		m.unknown = err.Error()
		m.mu.Unlock()
		if was != err.Error() {
			m.log.Warn("containers: cannot read the mount table", "err", err)
		}
		return
	}
	live := map[string]bool{}
	for _, mt := range mounts {
		live[mt.Layers.Upper] = true
		m.mu.Lock()
		c := m.containers[mt.Layers.Upper]
		m.mu.Unlock()
		if c == nil {
			m.start(ctx, mt)
			continue
		}
		if c.id.Runtime == "overlay" {
			m.rename(c, identify(mt)) // the runtime may write its metadata after the mount
		}
		m.mu.Lock()
		unwatched := c.unwatched
		m.mu.Unlock()
		if unwatched {
			changes, err := c.differ.Diff(ctx, "/")
			m.apply(c, "/", changes, err, "full")
		}
	}
	m.mu.Lock()
	var gone []*container
	for upper, c := range m.containers {
		if !live[upper] {
			gone = append(gone, c)
		}
	}
	m.mu.Unlock()
	for _, c := range gone {
		m.stop(c)
	}
	m.mu.Lock()
	m.unknown = "" // every container running is in, each walked once
	m.mu.Unlock()
}

// start takes in a new container: watched first, then walked whole, so
// that a change made during the walk is either walked or seen.
func (m *Monitor) start(ctx context.Context, mt Mount) {
	c := newContainer(identify(mt), mt, m.rules, time.Now())
	if err := c.setUp(&m.cfg, &m.opts, c.found); err != nil {
		m.log.Warn("containers: a record is not read", "container", c.id.Label(), "err", err)
	}
	c.differ.BeforeList = func(dir string) { m.watch(c, dir) }
	m.mu.Lock()
	m.containers[mt.Layers.Upper] = c
	m.mu.Unlock()
	m.metrics.Found(c.id)
	m.metrics.Containers.Set(float64(m.count()))
	found := []slog.Attr{slog.String("mount", mt.Point)}
	if c.baked != nil {
		found = append(found, slog.String("baseline_id", c.baked.BaselineID), slog.String("baseline_key", c.baked.KeyID),
			slog.String("first_boot", c.firstBootState()))
	}
	m.event(slog.LevelInfo, "container_found", c, found...)
	changes, err := c.differ.Diff(ctx, "/")
	m.apply(c, "/", changes, err, "full")
}

// rename gives a container the identity its runtime now records.
func (m *Monitor) rename(c *container, id reporter.Container) {
	if id == c.id {
		return
	}
	m.metrics.Gone(c.id)
	m.mu.Lock()
	c.id = id
	m.mu.Unlock()
	m.metrics.Found(id)
	m.export(c)
}

// stop drops a container whose rootfs is gone: its watches, its series,
// its hook.
func (m *Monitor) stop(c *container) {
	m.mu.Lock()
	delete(m.containers, c.mount.Layers.Upper)
	var dirs []string
	for dir, owner := range m.dirs {
		if owner == c {
			dirs = append(dirs, dir)
			delete(m.dirs, dir)
		}
	}
	cancel := c.cancelHook
	m.mu.Unlock()
	for _, d := range dirs {
		m.fsw.Remove(d) // fails where the directory went first: the kernel dropped it
	}
	if cancel != nil {
		cancel()
	}
	m.metrics.Gone(c.id)
	m.metrics.Containers.Set(float64(m.count()))
	m.event(slog.LevelInfo, "container_gone", c, slog.Int("drift_paths", len(c.findings)))
}

func (m *Monitor) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.containers)
}

// watch adds a watch on one of c's upper directories (root-relative).
func (m *Monitor) watch(c *container, dir string) {
	host := filepath.Join(c.mount.Layers.Upper, dir)
	if err := m.fsw.Add(host); err != nil {
		if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR) {
			// Unwatched, a change here would wait for the next walk:
			// walk the container again at every discovery until then.
			m.log.Warn("containers: cannot watch a directory", "container", c.id.Label(), "path", dir, "err", err)
			m.mu.Lock()
			c.unwatched = true
			m.mu.Unlock()
		}
		return
	}
	m.mu.Lock()
	m.dirs[host] = c
	m.mu.Unlock()
}

// read turns watch events into dirty paths until the watcher is closed.
func (m *Monitor) read() {
	for {
		select {
		case ev, ok := <-m.fsw.Events:
			if !ok {
				return
			}
			m.mu.Lock()
			c := m.dirs[filepath.Dir(ev.Name)]
			if c == nil {
				c = m.dirs[ev.Name]
			}
			if c != nil {
				rel := strings.TrimPrefix(ev.Name, c.mount.Layers.Upper)
				if rel == "" {
					rel = "/"
				}
				c.dirty[rel] = true
				if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
					delete(m.dirs, ev.Name) // the kernel dropped its watch, if any
				}
			}
			m.mu.Unlock()
			m.wake()
		case err, ok := <-m.fsw.Errors:
			if !ok {
				return
			}
			m.log.Warn("containers: watch queue overflowed: walking every container again", "err", err)
			m.mu.Lock()
			m.overflow = true
			m.mu.Unlock()
			m.wake()
		}
	}
}

func (m *Monitor) wake() {
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

// recheck walks what changed in each container since the last recheck.
func (m *Monitor) recheck(ctx context.Context) {
	type work struct {
		c     *container
		paths []string
	}
	var todo []work
	m.mu.Lock()
	overflow := m.overflow
	m.overflow = false
	for _, c := range m.containers {
		var paths []string
		if overflow {
			paths = []string{"/"}
		} else {
			for p := range c.dirty {
				paths = append(paths, p)
			}
		}
		clear(c.dirty)
		if len(paths) > 0 {
			todo = append(todo, work{c, baseline.TopMost(paths)})
		}
	}
	m.mu.Unlock()
	slices.SortFunc(todo, func(a, b work) int { return strings.Compare(a.c.mount.Layers.Upper, b.c.mount.Layers.Upper) })
	for _, w := range todo {
		for _, p := range w.paths {
			changes, err := w.c.differ.Diff(ctx, p)
			m.apply(w.c, p, changes, err, "watch")
		}
	}
}

// sealDue seals the first-boot paths of each container whose window has
// ended: their state now is what they are compared with from then on.
func (m *Monitor) sealDue(ctx context.Context, now time.Time) {
	m.mu.Lock()
	var due []*container
	for _, c := range m.containers {
		if c.firstBoot.open() && !now.Before(c.firstBoot.until) {
			due = append(due, c)
		}
	}
	m.mu.Unlock()
	for _, c := range due {
		changes, err := c.differ.Diff(ctx, "/")
		if err != nil {
			m.apply(c, "/", nil, err, "full") // still open: sealed at a later tick
			continue
		}
		s := c.sealOf(m.cfg.findingsOf(changes), now)
		m.mu.Lock()
		c.firstBoot.sealed = s
		m.mu.Unlock()
		m.save(c)
		m.event(slog.LevelInfo, "container_sealed", c, slog.Int("paths", len(s.Paths)))
		m.apply(c, "/", changes, nil, "full")
	}
}
