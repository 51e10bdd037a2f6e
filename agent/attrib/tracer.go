package attrib

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"
)

// The backends, best first. Each names the writer of a change from the
// pid fanotify gives for it; they differ in who the pid is once the
// writer has exited.
const (
	// BackendEBPF: fanotify for the change and its pid, and an eBPF table
	// of processes kept from their fork or exec until after they exit (an
	// LRU: the oldest make room), so short-lived writers are named.
	BackendEBPF = "ebpf"
	// BackendFanotify: fanotify, and /proc read when the event is: a
	// writer that has exited by then is known by its pid alone.
	BackendFanotify = "fanotify"
	// BackendNone: the kernel allows neither; changes are seen (by
	// inotify) but not attributed.
	BackendNone = "none"
)

// keep is how many recent changes the tracer remembers, and keepFor for
// how long: long enough for the watcher's debounce and a re-check to ask.
const (
	keep    = 1 << 16
	keepFor = 10 * time.Minute
)

// Tracer names the writers of changes in the directories it is told to
// watch. Its methods are safe for concurrent use.
type Tracer struct {
	fan   *fanotify
	procs *procTable // nil without eBPF

	mu     sync.Mutex
	recent map[changeKey]Writer
	order  []changeKey // oldest first, for the bound on recent
	last   Writer      // the last one remembered, whose strings the next shares if it is the same

	onOverflow func() // called on each queue overflow
	done       chan struct{}
}

// changeKey names one name in one directory, by the directory's host path.
type changeKey struct {
	dir, name string
}

// Open starts the best backend the kernel allows. It fails when even
// fanotify is refused (no CAP_SYS_ADMIN, or a kernel before 5.9): the
// caller runs without attribution and says so. The error of an eBPF
// backend that did not load is returned with a working tracer, for the
// log. onOverflow, when set, is called each time the kernel's queue
// overflowed: the changes then seen go unattributed, not unseen.
func Open(onOverflow func()) (*Tracer, error) {
	fan, err := openFanotify()
	if err != nil {
		return nil, fmt.Errorf("attribution: %w", err)
	}
	t := &Tracer{fan: fan, recent: map[changeKey]Writer{}, onOverflow: onOverflow, done: make(chan struct{})}
	procs, perr := openProcTable()
	if perr != nil {
		perr = fmt.Errorf("attribution without eBPF (short-lived writers go unnamed): %w", perr)
	}
	t.procs = procs
	go t.read()
	return t, perr
}

// Backend names the running backend.
func (t *Tracer) Backend() string {
	if t == nil {
		return BackendNone
	}
	if t.procs != nil {
		return BackendEBPF
	}
	return BackendFanotify
}

// read takes fanotify's events until it is closed.
func (t *Tracer) read() {
	defer close(t.done)
	t.fan.read(func(ev fanEvent) {
		if ev.overflow {
			if t.onOverflow != nil {
				t.onOverflow()
			}
			return
		}
		t.remember(changeKey{dir: ev.dir, name: ev.name}, t.who(ev.pid))
	})
}

// who names the process pid: from the eBPF table, else from /proc, else
// by its pid alone.
func (t *Tracer) who(pid uint32) Writer {
	if t.procs != nil {
		if w, ok := t.procs.lookup(pid); ok {
			return w
		}
	}
	w, err := Lookup(pid)
	if err != nil {
		w.Comm = "" // exited before it could be read
	}
	return w
}

// remember records w as the writer of k. In a storm of changes by one
// process, each is remembered with the strings and ancestors of the first:
// 65k copies of them were a tenth of the daemon's growth in the storm.
func (t *Tracer) remember(k changeKey, w Writer) {
	w.Time = time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if w.Same(t.last) {
		w.Comm, w.Exe, w.Ancestors = t.last.Comm, t.last.Exe, t.last.Ancestors
	} else {
		t.last = w
	}
	if _, had := t.recent[k]; !had {
		t.order = append(t.order, k)
	}
	t.recent[k] = w
	for len(t.order) > keep || (len(t.order) > 0 && time.Since(t.recent[t.order[0]].Time) > keepFor) {
		delete(t.recent, t.order[0])
		t.order = t.order[1:]
	}
	if cap(t.order) > 4*keep { // hand the dropped head back
		t.order = append([]changeKey(nil), t.order...)
	}
}

// Watch reports the changes in the directory at the host path dir from
// now on. A directory that cannot be marked is left unattributed: its
// changes are still seen by the watcher.
func (t *Tracer) Watch(dir string) { t.fan.mark(dir) }

// Unwatch stops reporting changes in the directory at the host path dir.
func (t *Tracer) Unwatch(dir string) { t.fan.unmark(dir) }

// Writer returns the last writer of the host path, if one was seen in the
// last minutes. A removal is known by its directory and name.
func (t *Tracer) Writer(path string) (Writer, bool) {
	k := changeKey{dir: filepath.Dir(path), name: filepath.Base(path)}
	t.mu.Lock()
	defer t.mu.Unlock()
	w, ok := t.recent[k]
	return w, ok
}

// Close stops the backend and waits for its reader.
func (t *Tracer) Close() error {
	err := t.fan.close()
	<-t.done
	if t.procs != nil {
		err = errors.Join(err, t.procs.close())
	}
	return err
}
