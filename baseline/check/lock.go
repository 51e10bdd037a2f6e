package check

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrLocked is a state dir another driftd holds.
var ErrLocked = errors.New("check: the state dir is in use by another driftd")

// LockStateDir takes the state dir for one writer alone (the daemon, or a
// check where no daemon runs): an exclusive lock on driftd.lock, held until
// release. Another gets ErrLocked, with the holder's pid, and has touched
// nothing: not the socket, not the state.
func LockStateDir(dir string) (release func(), err error) {
	path := filepath.Join(dir, "driftd.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock state dir: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is held by pid %s (one writer per state dir)", ErrLocked, dir, strings.TrimSpace(string(holder)))
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() { f.Close() }, nil
}
