package agent

import (
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/fsnotify/fsnotify"

	"driftd/agent/containers"
	"driftd/baseline/check"
)

// stateGuard watches the state dir, where only the daemon writes: it
// knows each file it wrote (size, time, inode and digest), and any other
// change there (a file edited, replaced, deleted or added) is tampering.
// The loop owns it, but for the watcher's own goroutine, which only wakes
// the loop.
type stateGuard struct {
	dir    string
	own    map[string]stamp // what the daemon wrote last, by name
	fsw    *fsnotify.Watcher
	notify chan struct{}
	done   chan struct{}
}

// stamp identifies a file's content cheaply, with its digest for when
// the cheap part moved.
type stamp struct {
	size, mtime int64
	ctime       int64 // no one sets it back: a write always moves it
	ino         uint64
	digest      [32]byte
	dir         bool // a socket or directory: no content to hash
}

// knownState are the files the daemon writes in its state dir.
var knownState = []string{"findings.json", "taint.json", "seal.manifest", "host.json", "driftd.lock", "driftd.sock"}

func newStateGuard(dir string, log *slog.Logger) *stateGuard {
	g := &stateGuard{dir: dir, own: map[string]stamp{}, notify: make(chan struct{}, 1), done: make(chan struct{})}
	fsw, err := fsnotify.NewWatcher()
	if err == nil {
		err = fsw.Add(dir)
	}
	if err != nil {
		log.Error("the state dir is not watched: a write by another process shows at the next restart only", "err", err)
		close(g.done)
		return g
	}
	g.fsw = fsw
	go func() {
		defer close(g.done)
		for {
			select {
			case _, ok := <-fsw.Events:
				if !ok {
					return
				}
			case _, ok := <-fsw.Errors:
				if !ok {
					return
				}
			}
			select {
			case g.notify <- struct{}{}:
			default:
			}
		}
	}()
	// What is there at the start is the daemon's from before (a file
	// changed while it was stopped is caught by the record's digests of
	// the pin and the seal, and the stop by DriftAgentDown).
	for _, name := range knownState {
		g.wrote(name)
	}
	return g
}

func (g *stateGuard) close() {
	if g.fsw != nil {
		g.fsw.Close()
	}
	<-g.done
}

// stampOf reads a file's stamp; hash says whether to digest its content.
func stampOf(path string, hash bool) (stamp, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return stamp{}, err
	}
	st := stamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino, st.ctime = sys.Ino, sys.Ctim.Nano()
	}
	if !fi.Mode().IsRegular() {
		st.dir = true
		return st, nil
	}
	if hash {
		f, err := os.Open(path)
		if err != nil {
			return stamp{}, err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return stamp{}, err
		}
		h.Sum(st.digest[:0])
	}
	return st, nil
}

// same reports whether two stamps are of the same file, unchanged: the
// ctime moves with any write and no one sets it back.
func (s stamp) same(o stamp) bool {
	return s.size == o.size && s.mtime == o.mtime && s.ino == o.ino && s.ctime == o.ctime
}

// wrote records files the daemon has just written (or found at start).
func (g *stateGuard) wrote(names ...string) {
	for _, name := range names {
		st, err := stampOf(filepath.Join(g.dir, name), true)
		if err == nil {
			g.own[name] = st
		} else if errors.Is(err, os.ErrNotExist) {
			delete(g.own, name)
		}
	}
}

// verify compares the state dir with what the daemon wrote, and returns
// each file that another writer added, changed or removed, with why.
// Files being written beside their final name (.NAME.tmp*) are the
// daemon's own atomic writes in flight, and pass.
func (g *stateGuard) verify() map[string]string {
	bad := map[string]string{}
	ents, err := os.ReadDir(g.dir)
	if err != nil {
		return map[string]string{"": "state dir unreadable: " + err.Error()}
	}
	seen := map[string]bool{}
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp") {
			continue
		}
		seen[name] = true
		// The container monitor writes its records there on its own: the
		// guard takes the directory as the daemon's, unread.
		if name == containers.StateDirName && e.IsDir() {
			continue
		}
		want, ours := g.own[name]
		if !ours {
			bad[name] = "added by another writer"
			continue
		}
		got, err := stampOf(filepath.Join(g.dir, name), false)
		if err != nil {
			continue // gone since the listing: the next event says so
		}
		if got.same(want) {
			continue
		}
		if got, err = stampOf(filepath.Join(g.dir, name), true); err == nil && !want.dir && got.digest == want.digest {
			g.own[name] = got // the same content, touched: not a change of what driftd relies on
			continue
		}
		bad[name] = "changed by another writer"
	}
	for name := range g.own {
		if !seen[name] {
			bad[name] = "removed by another writer"
		}
	}
	return bad
}

// checkState holds every change to the state dir that the daemon did not
// make as a critical finding about driftd itself.
func (d *Daemon) checkState() {
	if d.sealing {
		return // the seal job writes there; applySeal checks again
	}
	for name, why := range d.guard.verify() {
		path := filepath.Join(d.stateDir, name)
		d.log.Error("the state dir was written by another process", "path", path, "why", why)
		d.addTamper(check.Tampered(path, "state dir: "+why), EventStateTampered)
	}
}

// checkBaselineFile holds a change to the baseline file on disk (a new
// manifest put over it, ahead of a reload) as an attempt to change the
// pinned baseline: it will be refused, and the fleet hears of it now.
func (d *Daemon) checkBaselineFile() {
	if d.base == nil || d.baseFile == "" {
		return
	}
	st, err := stampOf(d.baseFile, false)
	if err == nil && st.same(d.baseStamp) {
		return
	}
	if _, held := d.tamper[d.baseRel]; held {
		return
	}
	d.metrics.BaselineChanges.WithLabelValues("refused").Inc()
	d.log.Error("the baseline file changed on disk: the pinned baseline stays in force", "path", d.baseFile)
	d.addTamper(check.Tampered(d.baseRel, "baseline file changed on disk"), EventBaselineRefused)
}
