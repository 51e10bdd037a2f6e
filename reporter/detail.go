package reporter

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// FindingDetails are the lines that say what changed in a finding, for a
// responder: "mode 0755 -> 4755", who made it, and the content's diff or
// why there is none.
func FindingDetails(f *FindingJSON) []string {
	var lines []string
	b, a := f.Before, f.After
	if b != nil && a != nil {
		for _, c := range []struct {
			name          string
			before, after string
		}{
			{"mode", b.Mode, a.Mode},
			{"uid", fmt.Sprint(b.UID), fmt.Sprint(a.UID)},
			{"gid", fmt.Sprint(b.GID), fmt.Sprint(a.GID)},
			{"type", b.Type, a.Type},
			{"target", b.Target, a.Target},
			{"size", fmt.Sprint(b.Size), fmt.Sprint(a.Size)},
		} {
			if slices.Contains(f.Changes, c.name) && c.before != c.after {
				lines = append(lines, fmt.Sprintf("%s %s -> %s", c.name, c.before, c.after))
			}
		}
	}
	if f.By != nil {
		lines = append(lines, f.By.Text)
	}
	if f.DiffNote != "" {
		lines = append(lines, f.DiffNote)
	}
	if f.Diff != "" {
		lines = append(lines, strings.Split(strings.TrimRight(f.Diff, "\n"), "\n")...)
	}
	return lines
}

// writeDetails writes each finding's details under its path, indented;
// findings with none are left out.
func writeDetails(w io.Writer, findings []*FindingJSON) {
	for _, f := range findings {
		lines := FindingDetails(f)
		if len(lines) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s:\n", DisplayPath(f.Path))
		for _, l := range lines {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
}
