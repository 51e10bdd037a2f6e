package baseline

// Package is one installed package, as its manager records it.
type Package struct {
	Manager string `json:"manager"` // dpkg, rpm or apk
	Name    string `json:"name"`
	Version string `json:"version"`
	Arch    string `json:"arch,omitempty"`
}

// Key identifies a package across versions: manager, name and
// architecture. Two inventories are compared key by key.
func (p *Package) Key() string { return p.Manager + "/" + p.Name + ":" + p.Arch }

// The states of a package manager's database in an inventory.
const (
	Inventoried    = "inventoried"
	NotInventoried = "not_inventoried"
)

// ManagerState says whether a package manager's database was read, and
// if not, why: a database that driftd could not read is said to be so,
// never taken as empty.
type ManagerState struct {
	Manager  string `json:"manager"`
	Status   string `json:"status"` // Inventoried or NotInventoried
	Reason   string `json:"reason,omitempty"`
	Packages int    `json:"packages"`
}

// Inventory is what the package managers under a root say is installed.
type Inventory struct {
	Managers []ManagerState // only the managers whose database exists
	Packages []Package      // sorted by key
}

// PackageFile is a path a package installs, with the digest its manager
// recorded for it (empty for directories and where none is recorded).
type PackageFile struct {
	Path   string
	Algo   string // md5, sha1, sha256, ...: the manager's choice
	Digest []byte
}

// OSRelease is what an image's os-release file says it is.
type OSRelease struct {
	ID        string `json:"id"`
	VersionID string `json:"version_id,omitempty"`
	Name      string `json:"pretty_name,omitempty"`
}

// State returns the state of a manager in the inventory, if its database
// exists.
func (inv *Inventory) State(manager string) (ManagerState, bool) {
	for _, s := range inv.Managers {
		if s.Manager == manager {
			return s, true
		}
	}
	return ManagerState{}, false
}
