package attrib

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fanMask is what a directory's mark reports: every change to a name in
// it, and to the directory itself.
const fanMask = unix.FAN_MODIFY | unix.FAN_ATTRIB | unix.FAN_CLOSE_WRITE | unix.FAN_CREATE |
	unix.FAN_DELETE | unix.FAN_MOVED_FROM | unix.FAN_MOVED_TO | unix.FAN_EVENT_ON_CHILD | unix.FAN_ONDIR

// fanotify is a notification group with a mark on each watched directory,
// reporting each event's directory (as a file handle) and name, and the
// pid of the process that caused it.
type fanotify struct {
	file *os.File // non-blocking, so Close wakes a Read

	mu   sync.Mutex
	dirs map[string]string // handle key → host path
	keys map[string]string // host path → handle key
}

// fanEvent is one event: a name in a watched directory, changed by pid.
type fanEvent struct {
	dir, name string
	pid       uint32
	overflow  bool
}

func openFanotify() (*fanotify, error) {
	fd, err := unix.FanotifyInit(unix.FAN_CLASS_NOTIF|unix.FAN_REPORT_DFID_NAME|unix.FAN_NONBLOCK|unix.FAN_CLOEXEC,
		unix.O_RDONLY|unix.O_LARGEFILE)
	if err != nil {
		return nil, fmt.Errorf("fanotify_init: %w", err)
	}
	return &fanotify{file: os.NewFile(uintptr(fd), "fanotify"), dirs: map[string]string{}, keys: map[string]string{}}, nil
}

// handleKey is a directory's identity in fanotify's events: its
// filesystem id and file handle.
func handleKey(fsid [2]int32, handleType int32, handle []byte) string {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, fsid)
	binary.Write(&b, binary.LittleEndian, handleType)
	b.Write(handle)
	return b.String()
}

func (f *fanotify) mark(dir string) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return
	}
	h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, dir, unix.AT_SYMLINK_FOLLOW)
	if err != nil {
		return
	}
	if err := unix.FanotifyMark(int(f.file.Fd()), unix.FAN_MARK_ADD|unix.FAN_MARK_ONLYDIR, fanMask, unix.AT_FDCWD, dir); err != nil {
		return
	}
	k := handleKey(st.Fsid.Val, h.Type(), h.Bytes())
	f.mu.Lock()
	f.dirs[k], f.keys[dir] = dir, k
	f.mu.Unlock()
}

func (f *fanotify) unmark(dir string) {
	f.mu.Lock()
	k, ok := f.keys[dir]
	delete(f.keys, dir)
	if ok {
		delete(f.dirs, k)
	}
	f.mu.Unlock()
	if ok {
		// The kernel drops the mark with the directory; a directory
		// still there is unmarked here. Either way nothing to report.
		_ = unix.FanotifyMark(int(f.file.Fd()), unix.FAN_MARK_REMOVE|unix.FAN_MARK_ONLYDIR, fanMask, unix.AT_FDCWD, dir)
	}
}

// read hands each event to fn until the group is closed.
func (f *fanotify) read(fn func(fanEvent)) {
	buf := make([]byte, 64<<10)
	for {
		n, err := f.file.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			continue
		}
		f.parse(buf[:n], fn)
	}
}

// The record layouts of include/uapi/linux/fanotify.h.
const (
	metadataLen = int(unsafe.Sizeof(unix.FanotifyEventMetadata{}))
	infoHdrLen  = 4 // info_type, pad, len
	fsidLen     = 8
	fhHdrLen    = 8 // handle_bytes, handle_type
)

func (f *fanotify) parse(buf []byte, fn func(fanEvent)) {
	for len(buf) >= metadataLen {
		meta := (*unix.FanotifyEventMetadata)(unsafe.Pointer(&buf[0]))
		evLen := int(meta.Event_len)
		if evLen < metadataLen || evLen > len(buf) {
			return
		}
		if meta.Mask&unix.FAN_Q_OVERFLOW != 0 {
			fn(fanEvent{overflow: true})
		} else if ev, ok := f.info(buf[int(meta.Metadata_len):evLen]); ok {
			ev.pid = uint32(meta.Pid)
			fn(ev)
		}
		if meta.Fd >= 0 {
			unix.Close(int(meta.Fd)) // not asked for with FID reporting, but never leak one
		}
		buf = buf[evLen:]
	}
}

// info reads the directory-and-name record of one event.
func (f *fanotify) info(rec []byte) (fanEvent, bool) {
	for len(rec) >= infoHdrLen {
		typ, l := rec[0], int(binary.NativeEndian.Uint16(rec[2:4]))
		if l < infoHdrLen || l > len(rec) {
			return fanEvent{}, false
		}
		body := rec[infoHdrLen:l]
		rec = rec[l:]
		if typ != unix.FAN_EVENT_INFO_TYPE_DFID_NAME || len(body) < fsidLen+fhHdrLen {
			continue
		}
		var fsid [2]int32
		fsid[0] = int32(binary.NativeEndian.Uint32(body[0:4]))
		fsid[1] = int32(binary.NativeEndian.Uint32(body[4:8]))
		hlen := int(binary.NativeEndian.Uint32(body[8:12]))
		htype := int32(binary.NativeEndian.Uint32(body[12:16]))
		if fsidLen+fhHdrLen+hlen > len(body) {
			return fanEvent{}, false
		}
		handle := body[fsidLen+fhHdrLen : fsidLen+fhHdrLen+hlen]
		name := body[fsidLen+fhHdrLen+hlen:]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		f.mu.Lock()
		dir, ok := f.dirs[handleKey(fsid, htype, handle)]
		f.mu.Unlock()
		if !ok {
			return fanEvent{}, false // a directory unmarked since
		}
		return fanEvent{dir: dir, name: string(name)}, true
	}
	return fanEvent{}, false
}

func (f *fanotify) close() error { return f.file.Close() }
