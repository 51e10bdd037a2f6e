package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"sync"
)

// journalSocket is journald's native socket: a listener on it means
// journald runs.
const journalSocket = "/run/systemd/journal/socket"

// journalRunning reports whether journald runs and journalctl is there to
// read it.
func journalRunning() bool {
	c, err := net.Dial("unixgram", journalSocket)
	if err != nil {
		return false // no socket, or a socket left by a journald that is gone
	}
	c.Close()
	_, err = exec.LookPath("journalctl")
	return err == nil
}

// sshdMatch selects sshd's entries by the fields journald itself sets
// (_COMM), which a process cannot forge, unlike the syslog identifier any
// `logger -t sshd` sets. OpenSSH 9.8 logs sessions as sshd-session.
var sshdMatch = []string{"_COMM=sshd", "_COMM=sshd-session"}

// journal gives sshd's lines from the systemd journal through journalctl:
// this boot's lines first, then each new one as it is logged.
type journal struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	pending [][]byte
	backlog [][]byte // this boot's lines, until the first call of lines
}

func newJournal() (*journal, error) {
	j := &journal{done: make(chan struct{})}
	// The backlog, and the cursor to follow from.
	args := append([]string{"--boot", "--output=json", "--no-pager", "--quiet"}, sshdMatch...)
	out, err := exec.Command("journalctl", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("read the journal: journalctl: %w", err)
	}
	cursor := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if line, c, ok := journalLine(sc.Bytes()); ok {
			j.backlog = append(j.backlog, line)
			cursor = c
		}
	}
	follow := append([]string{"--follow", "--output=json", "--no-pager", "--quiet"}, sshdMatch...)
	if cursor != "" {
		follow = append(follow, "--after-cursor="+cursor)
	} else {
		follow = append(follow, "--lines=0")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "journalctl", follow...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("follow the journal: journalctl: %w", err)
	}
	j.cancel = cancel
	go func() {
		defer close(j.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if line, _, ok := journalLine(sc.Bytes()); ok {
				j.mu.Lock()
				j.pending = append(j.pending, line)
				j.mu.Unlock()
			}
		}
		cmd.Wait()
	}()
	return j, nil
}

// journalLine turns one journal entry into "sshd[PID]: MESSAGE", with its
// cursor.
func journalLine(entry []byte) (line []byte, cursor string, ok bool) {
	var e struct {
		Message json.RawMessage `json:"MESSAGE"`
		PID     string          `json:"_PID"`
		Cursor  string          `json:"__CURSOR"`
	}
	if json.Unmarshal(entry, &e) != nil || e.PID == "" {
		return nil, "", false
	}
	var msg string
	if json.Unmarshal(e.Message, &msg) != nil {
		var raw []byte // journalctl gives a message that is not UTF-8 as an array of bytes
		if json.Unmarshal(e.Message, &raw) != nil {
			return nil, "", false
		}
		msg = string(raw)
	}
	return fmt.Appendf(nil, "sshd[%s]: %s", e.PID, msg), e.Cursor, true
}

func (j *journal) name() string { return "journal" }

func (j *journal) lines() [][]byte {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := append(j.backlog, j.pending...)
	j.backlog, j.pending = nil, nil
	return out
}

func (j *journal) close() {
	j.cancel()
	<-j.done
}
