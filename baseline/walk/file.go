package walk

import (
	"errors"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"driftd/baseline"
)

// recordFile records the regular file d in dirfd, unless it is big: then
// it returns its size, for a job of its own, and otherwise 0. A small
// file's content may be left to the worker's ring, read with the others of
// its directory by flushReads.
func (wk *walk) recordFile(dirfd int, path string, d dirent, bufs *workerBufs) (big int64) {
	e := baseline.Entry{Path: path, Type: baseline.TypeRegular}
	fd, err := openRetryingNoatime(func(flags int) (int, error) { return openat(dirfd, d.cname, flags) })
	var st unix.Stat_t
	if !opened(fd, err, &e, &st, func(st *unix.Stat_t) error { return unix.Fstatat(dirfd, d.name, st, unix.AT_SYMLINK_NOFOLLOW) }) {
		if e.Type != 0 || e.Err != "" { // else it vanished
			bufs.record(wk.w.Progress, e)
		}
		return 0
	}
	if st.Size >= bigFile {
		unix.Close(fd)
		return st.Size
	}
	e = entryFromStat(path, &st)
	if wk.queueRead(fd, &e, bufs) {
		return 0
	}
	wk.readOpened(fd, &e, bufs)
	unix.Close(fd)
	bufs.record(wk.w.Progress, e)
	return 0
}

// openat is unix.Openat for a name already NUL-terminated: that one copies
// the name to the heap first, an allocation per file.
func openat(dirfd int, name *byte, flags int) (int, error) {
	fd, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(name)), uintptr(flags), 0, 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// hashBigFile records a large regular file as a job of its own.
func (wk *walk) hashBigFile(path string, bufs *workerBufs) {
	fd, e, ok := wk.openBig(path)
	if ok {
		wk.readOpened(fd, &e, bufs)
		unix.Close(fd)
	}
	if e.Type != 0 || e.Err != "" {
		bufs.record(wk.w.Progress, e)
	}
}

// openBig opens the large regular file at path, as opened says: ok false
// leaves fd closed and e to be recorded as it is (zero if it vanished).
func (wk *walk) openBig(path string) (fd int, e baseline.Entry, ok bool) {
	fd, err := openRetryingNoatime(func(flags int) (int, error) { return wk.openBeneath(path, flags) })
	lstat := func(st *unix.Stat_t) error { return unix.Fstatat(wk.rootfd, path[1:], st, unix.AT_SYMLINK_NOFOLLOW) }
	e = baseline.Entry{Path: path, Type: baseline.TypeRegular}
	var st unix.Stat_t
	if !opened(fd, err, &e, &st, lstat) {
		return -1, e, false
	}
	return fd, entryFromStat(path, &st), true
}

// fillFromOpen completes e from an attempt to open a regular file, as
// opened says, then reads its content and xattrs.
func (wk *walk) fillFromOpen(fd int, openErr error, e *baseline.Entry, bufs *workerBufs, lstat func(*unix.Stat_t) error) {
	var st unix.Stat_t
	if !opened(fd, openErr, e, &st, lstat) {
		return
	}
	defer unix.Close(fd)
	*e = entryFromStat(e.Path, &st)
	wk.readOpened(fd, e, bufs)
}

// opened checks an attempt to open the regular file of e. It reports true
// when fd is open on a regular file, with st its fstat. Otherwise fd is
// closed and e is redone from a fresh lstat: the walk records what is
// there now, and a file it could not read becomes an error entry with its
// metadata. A path that vanished leaves e zero.
func opened(fd int, openErr error, e *baseline.Entry, st *unix.Stat_t, lstat func(*unix.Stat_t) error) bool {
	fromLstat := func(why string) {
		var st unix.Stat_t
		if err := lstat(&st); err != nil {
			if errors.Is(err, unix.ENOENT) {
				*e = baseline.Entry{}
				return
			}
			e.Err = "lstat: " + err.Error()
			return
		}
		*e = entryFromStat(e.Path, &st)
		switch e.Type {
		case baseline.TypeRegular:
			e.Err = why
		case baseline.TypeDir:
			e.Err = "became a directory while being walked: its contents were not listed"
		}
	}
	changed := "changed while being read"
	if openErr != nil {
		switch {
		case errors.Is(openErr, unix.ENOENT), errors.Is(openErr, unix.ELOOP), errors.Is(openErr, unix.ENXIO):
			fromLstat(changed)
		default:
			fromLstat("open: " + openErr.Error())
		}
		return false
	}
	if err := unix.Fstat(fd, st); err != nil {
		unix.Close(fd)
		fromLstat("fstat: " + err.Error())
		return false
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		fromLstat(changed)
		return false
	}
	return true
}

// readOpened digests the content of the open regular file of e, then
// reads its xattrs.
func (wk *walk) readOpened(fd int, e *baseline.Entry, bufs *workerBufs) {
	e.Err = bufs.hash(wk.ctx, fd, e, wk.limiter)
	wk.hashed(fd, e, bufs)
}

// hashed completes e once its content is digested: progress, then xattrs.
func (wk *walk) hashed(fd int, e *baseline.Entry, bufs *workerBufs) {
	if p := wk.w.Progress; p != nil && e.Err == "" {
		p.Bytes.Add(e.Size)
	}
	if e.Err == "" {
		e.Xattrs, e.Err = bufs.xattrsFd(fd)
	}
}

// record adds e to the worker's batch for the job at hand.
func (b *workerBufs) record(p *Progress, e baseline.Entry) {
	b.batch = append(b.batch, e)
	if p != nil {
		p.Entries.Add(1)
	}
}

// noatimeDenied remembers that O_NOATIME was refused (we do not own the
// files and lack CAP_FOWNER), so later opens skip the flag.
var noatimeDenied atomic.Bool

func openFileFlags() int {
	flags := unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOFOLLOW | unix.O_CLOEXEC
	if !noatimeDenied.Load() {
		flags |= unix.O_NOATIME
	}
	return flags
}

// openRetryingNoatime opens with O_NOATIME where permitted.
func openRetryingNoatime(open func(flags int) (int, error)) (int, error) {
	flags := openFileFlags()
	fd, err := open(flags)
	if errors.Is(err, unix.EPERM) && flags&unix.O_NOATIME != 0 {
		noatimeDenied.Store(true)
		fd, err = open(flags &^ unix.O_NOATIME)
	}
	return fd, err
}

func entryFromStat(path string, st *unix.Stat_t) baseline.Entry {
	e := baseline.Entry{
		Path:  path,
		Mode:  st.Mode & 0o7777,
		UID:   st.Uid,
		GID:   st.Gid,
		Size:  st.Size,
		Mtime: st.Mtim.Nano(),
		Ctime: st.Ctim.Nano(),
		Inode: st.Ino,
		Nlink: uint64(st.Nlink),
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		e.Type = baseline.TypeRegular
	case unix.S_IFDIR:
		e.Type = baseline.TypeDir
	case unix.S_IFLNK:
		e.Type = baseline.TypeSymlink
	case unix.S_IFIFO:
		e.Type = baseline.TypeFIFO
	case unix.S_IFSOCK:
		e.Type = baseline.TypeSocket
	case unix.S_IFCHR:
		e.Type, e.Rdev = baseline.TypeCharDevice, st.Rdev
	case unix.S_IFBLK:
		e.Type, e.Rdev = baseline.TypeBlockDevice, st.Rdev
	}
	return e
}
