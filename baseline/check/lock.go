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
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, stateDirError(dir, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, stateDirError(dir, err)
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

// stateDirError says what to do about a state dir driftd cannot write.
func stateDirError(dir string, err error) error {
	if errors.Is(err, os.ErrPermission) || errors.Is(err, unix.EROFS) {
		return fmt.Errorf("state dir %s is not writable (%v): run as root, or give a --state-dir you may write", dir, errors.Unwrap(err))
	}
	return fmt.Errorf("state dir %s: %w", dir, err)
}
