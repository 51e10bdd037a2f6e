package attrib

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Unset is the kernel's value for a login uid or audit session id that
// no login set (pam_loginuid sets both for each SSH session).
const Unset = 1<<32 - 1

// Writer is the process that made a change, as the kernel saw it while the
// process made it.
type Writer struct {
	PID       uint32
	UID       uint32
	LoginUID  uint32 // Unset if no login set it
	SessionID uint32 // the audit session id; Unset if none
	Comm      string
	Exe       string   // the executable's path, "" if unknown
	Ancestors []uint32 // the pids of its ancestors, parent first
	Time      time.Time
}

// Same reports whether w and o are the same process as seen: the same
// fields but the time.
func (w Writer) Same(o Writer) bool {
	return w.PID == o.PID && w.UID == o.UID && w.LoginUID == o.LoginUID && w.SessionID == o.SessionID &&
		w.Comm == o.Comm && w.Exe == o.Exe && slices.Equal(w.Ancestors, o.Ancestors)
}

// fromProc decodes the eBPF program's record of a process.
func fromProc(e *tracerProc) Writer {
	w := Writer{PID: e.Tgid, UID: e.Uid, LoginUID: e.Loginuid, SessionID: e.Sessionid,
		Comm: cString(e.Comm[:])}
	for _, a := range e.Ancestors {
		if a == 0 {
			break
		}
		w.Ancestors = append(w.Ancestors, a)
	}
	var parts []string
	for i := len(e.Exe) - 1; i >= 0; i-- {
		if p := cString(e.Exe[i][:]); p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) > 0 {
		w.Exe = "/" + strings.Join(parts, "/")
		if e.ExeComplete == 0 {
			w.Exe = "…" + w.Exe // deeper than the program follows
		}
	}
	return w
}

func cString(b []int8) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(out)
}

// Lookup reads a live process's writer fields from /proc: for a session's
// processes that outlive the change (its shell, sshd), not for the writer.
func Lookup(pid uint32) (Writer, error) {
	dir := "/proc/" + strconv.FormatUint(uint64(pid), 10)
	w := Writer{PID: pid, LoginUID: Unset, SessionID: Unset}
	comm, err := os.ReadFile(dir + "/comm")
	if err != nil {
		return w, err
	}
	w.Comm = strings.TrimSpace(string(comm))
	w.Exe, _ = os.Readlink(dir + "/exe")
	w.LoginUID = readUint(dir + "/loginuid")
	w.SessionID = readUint(dir + "/sessionid")
	return w, nil
}

// SessionOf is the audit session id of a live process, or Unset.
func SessionOf(pid uint32) uint32 {
	return readUint("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/sessionid")
}

func readUint(path string) uint32 {
	b, err := os.ReadFile(path)
	if err != nil {
		return Unset
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		return Unset
	}
	return uint32(n)
}
