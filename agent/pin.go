package agent

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"driftd/baseline"
	"driftd/baseline/atomicfile"
)

// pin is the baseline a host answers to for its life: recorded at the
// daemon's first start, and never replaced. Replacing the baseline of a
// live host is repair; the way to a new image is a new host.
type pin struct {
	BaselineID string    `json:"baseline_id"`
	Digest     string    `json:"digest"` // hex SHA-256 of the signed manifest
	KeyID      string    `json:"key_id"`
	Pinned     time.Time `json:"pinned"`
}

func pinPath(stateDir string) string { return filepath.Join(stateDir, "pin.json") }

// errPinned is a baseline other than the pinned one: refused.
var errPinned = errors.New("agent: another baseline than the one this host is pinned to")

// checkPin compares m with the state dir's pin, pinning m when there is
// none yet. A different baseline (or key: the digest covers the key id) is
// errPinned, wrapped with both ids.
func checkPin(stateDir string, m *baseline.Manifest) error {
	digest := hex.EncodeToString(m.Digest[:])
	data, err := os.ReadFile(pinPath(stateDir))
	if errors.Is(err, os.ErrNotExist) {
		p := pin{BaselineID: m.ID(), Digest: digest, KeyID: m.Header.KeyID, Pinned: time.Now().UTC()}
		body, _ := json.MarshalIndent(p, "", "  ")
		return atomicfile.WriteFile(pinPath(stateDir), append(body, '\n'), 0o600)
	}
	if err != nil {
		return fmt.Errorf("read pin: %w", err)
	}
	var p pin
	if err := json.Unmarshal(data, &p); err != nil {
		// A pin that cannot be read is not re-made: that would let a
		// garbled file open the way to any baseline.
		return fmt.Errorf("pin %s: %w: %w", pinPath(stateDir), errPinned, err)
	}
	if p.Digest != digest {
		return fmt.Errorf("%w: pinned %s (key %s) since %s, offered %s (key %s)", errPinned,
			p.BaselineID, p.KeyID, p.Pinned.Format(time.RFC3339), m.ID(), m.Header.KeyID)
	}
	return nil
}
