package baseline

import "path/filepath"

// TopMost drops each path that lies below another one in the list.
func TopMost(paths []string) []string {
	set := make(map[string]bool, len(paths))
	for _, p := range paths {
		set[p] = true
	}
	kept := make(map[string]bool, len(paths))
	var out []string
	for _, p := range paths {
		if kept[p] {
			continue // a duplicate
		}
		covered := false
		for d := filepath.Dir(p); ; d = filepath.Dir(d) {
			if set[d] && d != p {
				covered = true
				break
			}
			if d == "/" || d == "." {
				break
			}
		}
		if !covered {
			out = append(out, p)
			kept[p] = true
		}
	}
	return out
}
