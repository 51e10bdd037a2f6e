package pkgdb

import (
	"os"
	"path/filepath"
	"strings"

	"driftd/baseline"
)

// ReadOSRelease reads /etc/os-release (or /usr/lib/os-release) under root;
// nil when there is none.
func ReadOSRelease(root string) *baseline.OSRelease {
	for _, p := range []string{"etc/os-release", "usr/lib/os-release"} {
		data, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			continue
		}
		var r baseline.OSRelease
		for _, line := range strings.Split(string(data), "\n") {
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			v = strings.Trim(v, `"'`)
			switch k {
			case "ID":
				r.ID = v
			case "VERSION_ID":
				r.VersionID = v
			case "PRETTY_NAME":
				r.Name = v
			}
		}
		if r.ID != "" {
			return &r
		}
	}
	return nil
}
