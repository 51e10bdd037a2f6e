package containers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"driftd/baseline/atomicfile"
)

// StateDirName is the directory of the daemon's state dir where the
// monitor keeps its records.
const StateDirName = "containers"

// record is what the monitor keeps of a container across its own
// restarts, in the state dir: its first-boot seal, and its mark for
// replacement, so a restarted daemon neither re-opens the one nor runs the
// hook again for the other.
type record struct {
	Upper   string     `json:"upper"`
	Seal    *seal      `json:"seal,omitempty"`
	Tainted *time.Time `json:"replacement_required_since,omitempty"`
}

// recordFile is where the record of the container with upper directory
// upper is kept.
func recordFile(dir, upper string) string {
	sum := sha256.Sum256([]byte(upper))
	return filepath.Join(dir, hex.EncodeToString(sum[:12])+".json")
}

// readRecord reads the record of the container with upper directory
// upper: nil where there is none, or no dir to keep one in.
func readRecord(dir, upper string) (*record, error) {
	if dir == "" {
		return nil, nil
	}
	data, err := os.ReadFile(recordFile(dir, upper))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read its record: %w", err)
	}
	var r record
	if err := json.Unmarshal(data, &r); err != nil || r.Upper != upper {
		return nil, fmt.Errorf("record %s is not driftd's (%v)", recordFile(dir, upper), err)
	}
	return &r, nil
}

// writeRecord keeps r in dir; with no dir it is kept in memory only.
func writeRecord(dir string, r *record) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("container record: %w", err)
	}
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(recordFile(dir, r.Upper), data, 0o600)
}

// dropStaleRecords removes the records of containers whose upper
// directory is gone: they never start again.
func dropStaleRecords(dir string) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var r record
		if json.Unmarshal(data, &r) != nil || r.Upper == "" {
			continue
		}
		if _, err := os.Lstat(r.Upper); errors.Is(err, fs.ErrNotExist) {
			os.Remove(f)
		}
	}
}

// record is c's record now; the caller holds the monitor's lock.
func (c *container) record() *record {
	r := &record{Upper: c.mount.Layers.Upper, Tainted: c.tainted}
	if c.firstBoot != nil {
		r.Seal = c.firstBoot.sealed
	}
	return r
}

// setUp takes back c's record from the state dir (its mark, its seal)
// and reads the baseline baked in its image. A record that cannot be read
// is taken as none, its error returned: the seal is then missing (its
// paths unverified) and the hook may run again.
func (c *container) setUp(cfg *Config, opts *Options, now time.Time) error {
	rec, err := readRecord(opts.StateDir, c.mount.Layers.Upper)
	if rec != nil {
		c.tainted = rec.Tainted
	}
	if opts.Baked != nil {
		c.takeBaked(opts.Baked, cfg, rec, now)
	}
	return err
}

// save keeps c's record, once it has something worth keeping.
func (m *Monitor) save(c *container) {
	m.mu.Lock()
	r := c.record()
	m.mu.Unlock()
	if r.Seal == nil && r.Tainted == nil {
		return
	}
	if err := writeRecord(m.opts.StateDir, r); err != nil {
		// Held in memory: a restarted daemon finds no record, so the
		// first-boot paths are unverified and the hook may run again.
		m.log.Warn("containers: cannot keep a container's record", "container", c.id.Label(), "err", err)
	}
}
