package agent

import (
	"bufio"
	"io"
	"os"
	"syscall"
)

// syslogFile gives sshd's lines from a syslog file (auth.log, secure),
// from its start, then as it grows, across rotation and truncation.
type syslogFile struct {
	path    string
	f       *os.File
	ino     uint64
	partial []byte // a line not finished yet
}

func (s *syslogFile) name() string { return s.path }

func (s *syslogFile) lines() [][]byte {
	if !s.reopen() {
		return nil
	}
	var out [][]byte
	r := bufio.NewReaderSize(s.f, 64<<10)
	for {
		line, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			s.partial = append(s.partial, line...)
			continue
		}
		if err != nil { // io.EOF: keep the unfinished line for the next read
			s.partial = append(s.partial, line...)
			return out
		}
		full := append(s.partial, line...)
		s.partial = nil
		out = append(out, full)
	}
}

// reopen opens the file, again after it was rotated or truncated; it
// reports whether there is a file to read.
func (s *syslogFile) reopen() bool {
	st, err := os.Stat(s.path)
	if err != nil {
		return s.f != nil
	}
	ino := st.Sys().(*syscall.Stat_t).Ino
	if s.f != nil && ino == s.ino {
		if off, err := s.f.Seek(0, io.SeekCurrent); err == nil && st.Size() >= off {
			return true
		}
	}
	if s.f != nil {
		s.f.Close()
	}
	f, err := os.Open(s.path)
	if err != nil {
		s.f = nil
		return false
	}
	s.f, s.ino, s.partial = f, ino, nil
	return true
}

func (s *syslogFile) close() {
	if s.f != nil {
		s.f.Close()
	}
}
