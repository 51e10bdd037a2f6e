package agent

import (
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/sys/unix"

	"driftd/agent/attrib"
	"driftd/baseline"
	"driftd/reporter"
)

// watcher turns fsnotify events into dirty paths, relative to the root.
// It watches directories, not files: editors replace files by rename, and a
// directory's watch sees every name in it. Its tracer, when the kernel
// allows one, names who made each change in the same directories.
type watcher struct {
	fsw     *fsnotify.Watcher
	tracer  *attrib.Tracer // nil: changes are not attributed
	root    string         // host path of the root, cleaned
	max     int            // cap on watched directories; 0: the kernel's
	log     *slog.Logger
	metrics *reporter.Metrics

	// addMu serializes add (the scan and re-check jobs both add); mu
	// guards the maps and counts below and is never held across a
	// syscall, so the event reader and the status never wait on one.
	addMu     sync.Mutex
	mu        sync.Mutex
	dirty     map[string]bool
	watched   map[string]bool
	unwatched int
	overflow  bool // events were lost: everything must be rescanned
	capLogged bool

	notify chan struct{} // has a value when something is dirty
	done   chan struct{} // closed when run returns
}

// newWatcher starts watching; with attribution, it also starts the best
// attribution backend the kernel allows, and says which.
func newWatcher(root string, max int, attribution bool, log *slog.Logger, m *reporter.Metrics) (*watcher, error) {
	fsw, err := fsnotify.NewBufferedWatcher(4096)
	if err != nil {
		return nil, err
	}
	w := &watcher{
		fsw: fsw, root: filepath.Clean(root), max: max, log: log, metrics: m,
		dirty: map[string]bool{}, watched: map[string]bool{},
		notify: make(chan struct{}, 1), done: make(chan struct{}),
	}
	if attribution {
		w.tracer, err = attrib.Open(func() {
			m.AttributionOverflows.Inc()
			log.Warn("attribution queue overflowed: some changes go unattributed (they are still seen)")
		})
		switch {
		case w.tracer == nil:
			log.Warn("changes are not attributed: no attribution backend", "err", err)
		case err != nil:
			log.Warn("attribution without eBPF: a writer that exits at once is named by its pid alone", "err", err)
		}
	}
	m.SetAttribution(w.tracer.Backend())
	log.Info("attribution", "backend", w.tracer.Backend())
	go w.run()
	return w, nil
}

// writer is the last writer of the root-relative path, if the tracer saw
// one.
func (w *watcher) writer(path string) (attrib.Writer, bool) {
	if w.tracer == nil {
		return attrib.Writer{}, false
	}
	return w.tracer.Writer(w.host(path))
}

// rel turns an event's host path into a root-relative one.
func (w *watcher) rel(name string) string {
	if w.root == "/" {
		return name
	}
	r := strings.TrimPrefix(name, w.root)
	if r == "" {
		return "/"
	}
	return r
}

func (w *watcher) host(path string) string {
	if w.root == "/" {
		return path
	}
	return w.root + path
}

// run reads events until the fsnotify watcher is closed.
func (w *watcher) run() {
	defer close(w.done)
	for {
		select {
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			path := w.rel(ev.Name)
			w.mu.Lock()
			w.dirty[path] = true
			if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
				if w.watched[path] {
					delete(w.watched, path) // the kernel dropped its watch
					w.metrics.WatchDirectories.Set(float64(len(w.watched)))
					if w.tracer != nil {
						w.tracer.Unwatch(ev.Name)
					}
				}
			}
			w.mu.Unlock()
			w.wake()
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			w.metrics.WatchOverflows.Inc()
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.log.Warn("watch queue overflowed: rescanning", "err", err)
			} else {
				w.log.Warn("watch error: rescanning", "err", err)
			}
			w.mu.Lock()
			w.overflow = true
			w.mu.Unlock()
			w.wake()
		}
	}
}

func (w *watcher) wake() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// add watches the directories at the given root-relative paths. Past the
// cap, or when the kernel refuses more watches, a directory is left to the
// fast scan, and the first time that happens driftd says so.
func (w *watcher) add(dirs []string) {
	w.addMu.Lock()
	defer w.addMu.Unlock()
	for _, d := range dirs {
		w.mu.Lock()
		skip, full := w.watched[d], w.max > 0 && len(w.watched) >= w.max
		if !skip && full {
			w.unwatchedLocked(d, "the configured cap (watch.max_directories)")
		}
		w.mu.Unlock()
		if skip || full {
			continue
		}
		err := w.fsw.Add(w.host(d))
		switch {
		case err == nil:
			if w.tracer != nil {
				w.tracer.Watch(w.host(d))
			}
			w.mu.Lock()
			w.watched[d] = true
			w.mu.Unlock()
		case errors.Is(err, unix.ENOSPC):
			w.mu.Lock()
			w.unwatchedLocked(d, "the kernel's limit (fs.inotify.max_user_watches)")
			w.mu.Unlock()
		case !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR):
			w.log.Warn("cannot watch a directory: the fast scan covers it", "path", d, "err", err)
			w.metrics.WatchOverflows.Inc()
		}
	}
	w.mu.Lock()
	w.metrics.WatchDirectories.Set(float64(len(w.watched)))
	w.metrics.WatchUnwatched.Set(float64(w.unwatched))
	w.mu.Unlock()
}

func (w *watcher) unwatchedLocked(dir, limit string) {
	w.unwatched++
	if !w.capLogged {
		w.capLogged = true
		w.log.Warn("watch limit reached: directories past it are covered by the fast scan only",
			"limit", limit, "watched", len(w.watched), "first_unwatched", dir)
	}
}

// take returns the dirty paths, reduced to the top-most ones (a dirty
// directory's walk covers its dirty children), and whether events were
// lost.
func (w *watcher) take() (paths []string, overflow bool) {
	w.mu.Lock()
	for p := range w.dirty {
		paths = append(paths, p)
	}
	clear(w.dirty)
	overflow, w.overflow = w.overflow, false
	w.mu.Unlock()
	return baseline.TopMost(paths), overflow
}

func (w *watcher) stats() reporter.WatchJSON {
	w.mu.Lock()
	defer w.mu.Unlock()
	return reporter.WatchJSON{Enabled: true, Directories: len(w.watched), Unwatched: w.unwatched, Attribution: w.tracer.Backend()}
}

// close stops watching and waits for run to return.
func (w *watcher) close() error {
	err := w.fsw.Close()
	<-w.done
	if w.tracer != nil {
		err = errors.Join(err, w.tracer.Close())
	}
	return err
}
