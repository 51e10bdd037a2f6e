package check

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

// Record is what a host keeps of its own history in its state dir, written
// by the daemon or a check, whichever comes first: the baseline it answers
// to for life (the pin), and its seal. Replacing the baseline of a live
// host is repair; the way to a new image is a new host.
type Record struct {
	BaselineID string    `json:"baseline_id"`
	Digest     string    `json:"digest"` // hex SHA-256 of the signed manifest
	KeyID      string    `json:"key_id"`
	Pinned     time.Time `json:"pinned"`
	// Sealed is when the first-boot paths were sealed, and SealDigest the
	// seal's digest: from then on the window is closed for good, and a
	// seal that is missing or not the one written is tampering.
	Sealed     time.Time `json:"sealed,omitzero"`
	SealDigest string    `json:"seal_digest,omitempty"`
}

// RecordPath is where a state dir keeps the host's record.
func RecordPath(stateDir string) string { return filepath.Join(stateDir, "host.json") }

// ErrPinned is a baseline other than the one the host is pinned to.
var ErrPinned = errors.New("check: another baseline than the one this host is pinned to")

// ReadRecord reads a state dir's record; nil when there is none yet.
func ReadRecord(stateDir string) (*Record, error) {
	data, err := os.ReadFile(RecordPath(stateDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read host record: %w", err)
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("host record %s: %w", RecordPath(stateDir), err)
	}
	return &r, nil
}

func writeRecord(stateDir string, r *Record) error {
	body, _ := json.MarshalIndent(r, "", "  ")
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("host record: %w", err)
	}
	return atomicfile.WriteFile(RecordPath(stateDir), append(body, '\n'), 0o600)
}

// Pin compares m with the state dir's record, pinning m when there is
// none yet. A different baseline (or key: the digest covers the key id)
// is ErrPinned, wrapped with both ids; so is a record that cannot be read
// (it is not made again: a garbled file must not open the way to any
// baseline).
func Pin(stateDir string, m *baseline.Manifest) error {
	digest := hex.EncodeToString(m.Digest[:])
	r, err := ReadRecord(stateDir)
	switch {
	case err != nil:
		return fmt.Errorf("%w: %w", ErrPinned, err)
	case r == nil || r.Digest == "": // none, or only a seal's record (driftd seal came first)
		if r == nil {
			r = &Record{}
		}
		r.BaselineID, r.Digest, r.KeyID, r.Pinned = m.ID(), digest, m.Header.KeyID, time.Now().UTC()
		return writeRecord(stateDir, r)
	case r.Digest != digest:
		return fmt.Errorf("%w: pinned %s (key %s) since %s, offered %s (key %s)", ErrPinned,
			r.BaselineID, r.KeyID, r.Pinned.Format(time.RFC3339), m.ID(), m.Header.KeyID)
	}
	return nil
}

// recordSeal notes in the record that the host was sealed, with the
// seal's digest: the first-boot window is closed for good.
func recordSeal(stateDir string, seal *baseline.Manifest) error {
	r, err := ReadRecord(stateDir)
	if err != nil {
		return err
	}
	if r == nil {
		r = &Record{}
	}
	r.Sealed, r.SealDigest = time.Now().UTC(), hex.EncodeToString(seal.Digest[:])
	return writeRecord(stateDir, r)
}

// Tampered is a finding about driftd itself (category driftd, critical)
// that no scan makes or clears: a baseline other than the pinned one, a
// seal missing or not the one driftd wrote.
func Tampered(path, what string) baseline.Finding {
	return baseline.Finding{Path: path, Kind: baseline.Modified, Changes: baseline.AttrContent,
		Rule: &baseline.Rule{Pattern: "(" + what + ")", Category: baseline.DriftdCategory, Severity: baseline.SeverityCritical}}
}
