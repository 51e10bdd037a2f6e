package baseline

import (
	"encoding/hex"
)

// Header describes a manifest. It is stored as JSON so that `driftd show`
// and other tools can read it without knowing the entry encoding.
type Header struct {
	Format        int               `json:"format"`
	DriftdVersion string            `json:"driftd_version"`
	Hash          string            `json:"hash"`    // of contents and xattr values: a Hash
	Created       int64             `json:"created"` // Unix seconds; SOURCE_DATE_EPOCH when set
	Labels        map[string]string `json:"labels,omitempty"`
	RulesDigest   string            `json:"rules_digest"`
	KeyID         string            `json:"key_id"`
	Counts        Counts            `json:"counts"`
	// PackageManagers lists the package databases found at bake time and
	// whether each was inventoried.
	PackageManagers []ManagerState `json:"package_managers"`
	// OS is the image's /etc/os-release, which SBOMs name.
	OS *OSRelease `json:"os,omitempty"`
	// SSHPaths are the SSH paths derived from the image's users and sshd
	// config at bake time; a check watches them as well as its own.
	SSHPaths []string `json:"ssh_paths,omitempty"`
	// AcceptedUnreadable are the paths the bake could not read in full and
	// was told to accept (bake --allow-unreadable).
	AcceptedUnreadable []string `json:"accepted_unreadable,omitempty"`
	Compression        string   `json:"compression"`
	PayloadSize        int64    `json:"payload_size"` // the metadata section, uncompressed
}

// ContentHash is the hash the manifest's digests are by (a manifest that
// names one this driftd does not know is not read).
func (h *Header) ContentHash() Hash {
	alg, _ := ParseHash(h.Hash)
	return alg
}

// Counts summarises the entries.
type Counts struct {
	Entries int   `json:"entries"`
	Files   int   `json:"files"`
	Dirs    int   `json:"dirs"`
	Bytes   int64 `json:"bytes"`  // total size of regular files
	Errors  int   `json:"errors"` // entries that could not be read in full
}

// Manifest is a decoded baseline.
type Manifest struct {
	Header  Header
	Entries *Packed // sorted by path bytes, unique
	// Packages is the package inventory, sorted by key.
	Packages []Package
	// Owners gives, for each entry, the index in Packages of the package
	// that installs it, or -1. Nil when no entry has an owner.
	Owners []int32
	// Contents are the baked contents of the small text files under diff
	// rules, by path, each compressed (raw deflate): what a change to one
	// is shown against.
	Contents map[string][]byte
	// Digest is the SHA-256 of everything before the signature.
	Digest [32]byte
	// Verified is true when the signature checked out against a public key.
	Verified bool
}

// ID is the baseline id: a short hex of the digest that ties a host to the
// image it came from in every metric and event.
func (m *Manifest) ID() string { return hex.EncodeToString(m.Digest[:6]) }

// Owner returns the package that installs entry i, or nil.
func (m *Manifest) Owner(i int) *Package {
	if m.Owners == nil || m.Owners[i] < 0 {
		return nil
	}
	return &m.Packages[m.Owners[i]]
}

// SetOwners records which package installs each entry, from a map of
// paths to indexes into m.Packages. Directories get no owner: many
// packages share them.
func (m *Manifest) SetOwners(owners map[string]int) {
	m.Owners = nil
	if len(owners) == 0 {
		return
	}
	m.Owners = make([]int32, m.Entries.Len())
	// By the path's bytes: a string each was a million allocations.
	m.Entries.RangeBytes(0, m.Entries.Len(), func(i int, path []byte, e *Entry) bool {
		m.Owners[i] = -1
		if o, ok := owners[string(path)]; ok && e.Type != TypeDir {
			m.Owners[i] = int32(o)
		}
		return true
	})
}

// Find returns the index of path's entry, and whether there is one.
func (m *Manifest) Find(path string) (int, bool) { return m.Entries.Find(path) }
