package walk

import (
	"context"
	"errors"

	"golang.org/x/sys/unix"

	"driftd/baseline"
)

// ReadEntry records the one file at host path p (not what lies below it)
// as the entry rel, the way a walk records it: a regular file's digest, a
// symlink's target, the xattrs, and in Err what could not be read. ok is
// false when nothing is at p. Digests are SHA-256, as a Walker's with no Hash.
func ReadEntry(ctx context.Context, p, rel string) (e baseline.Entry, ok bool) {
	bufs := getBufs(baseline.SHA256)
	defer bufPool.Put(bufs)
	lstat := func(st *unix.Stat_t) error { return unix.Lstat(p, st) }
	var st unix.Stat_t
	if err := lstat(&st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return baseline.Entry{}, false
		}
		return baseline.Entry{Path: rel, Err: "lstat: " + err.Error()}, true
	}
	e = entryFromStat(rel, &st)
	switch e.Type {
	case baseline.TypeRegular:
		wk := &walk{w: &Walker{}, ctx: ctx}
		fd, err := openRetryingNoatime(func(flags int) (int, error) { return unix.Open(p, flags, 0) })
		wk.fillFromOpen(fd, err, &e, bufs, lstat)
		return e, e.Type != 0 || e.Err != ""
	case baseline.TypeSymlink:
		e.Target, e.Err = bufs.readlink(unix.AT_FDCWD, p)
	}
	if e.Err == "" {
		e.Xattrs, e.Err = bufs.xattrsPath(p)
	}
	return e, true
}
