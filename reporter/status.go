package reporter

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"driftd/baseline"
)

// WriteStatusText renders the daemon's view for a person. width, when
// positive, is the terminal's: the findings table is made to fit it by
// shortening long paths in their middle.
func WriteStatusText(w io.Writer, s *StatusJSON, width int) error {
	verified := "verified"
	if !s.BaselineVerified {
		verified = "NOT VERIFIED"
	}
	fmt.Fprintf(w, "driftd %s: %s", DisplayPath(s.Root), strings.ToUpper(string(s.Status)))
	if s.Reason != "" {
		fmt.Fprintf(w, " (%s)", s.Reason)
	}
	fmt.Fprintf(w, "\nbaseline %s (%s%s)\n", s.BaselineID, verified, labelText(s.Labels))
	if t := s.Taint; t.Tainted {
		fmt.Fprintf(w, "REPLACEMENT REQUIRED since %s: %s\n", t.Since.Local().Format(time.DateTime), t.Reason)
	}
	switch {
	case s.Seal.Sealed:
		fmt.Fprintf(w, "first-boot paths sealed %s (%d paths)\n", s.Seal.Time.Local().Format(time.DateTime), s.Seal.Paths)
	case s.Seal.Reason != "":
		fmt.Fprintf(w, "first-boot paths not sealed: %s\n", s.Seal.Reason)
	}
	for _, mode := range []string{"full", "fast", "watch"} {
		if sc, ok := s.Scans[mode]; ok {
			fmt.Fprintf(w, "last %s scan %s ago, %d entries in %.2fs\n", mode,
				time.Since(sc.Finished).Round(time.Second), sc.Entries, sc.DurationSeconds)
		}
	}
	if s.Watch.Enabled {
		fmt.Fprintf(w, "watching %d directories", s.Watch.Directories)
		if s.Watch.Unwatched > 0 {
			fmt.Fprintf(w, ", %d left to the fast scan (watch limit)", s.Watch.Unwatched)
		}
		switch s.Watch.Attribution {
		case "", "none":
			fmt.Fprint(w, "; changes not attributed")
		default:
			fmt.Fprintf(w, "; changes attributed by %s", s.Watch.Attribution)
		}
		fmt.Fprintln(w)
	}
	if src := s.SSH.Source; src != "" {
		fmt.Fprintf(w, "%d ssh sessions (from %s), %d remote logins since start\n", len(s.SSH.Sessions), src, s.SSH.Logins)
		for _, l := range s.SSH.Sessions {
			fmt.Fprintf(w, "  %s\n", sessionText(l))
		}
	}
	for _, p := range s.Packages {
		fmt.Fprintf(w, "%s  %s  package  %s %s  %s\n", p.Kind, p.Severity, p.Manager, p.Name, versions(p.Before, p.After))
	}
	for _, u := range s.PackagesUnverified {
		fmt.Fprintf(w, "unverified  %s\n", u)
	}
	if len(s.Findings) > 0 {
		rows := [][]string{{"KIND", "SEVERITY", "CATEGORY", "PATH", "CHANGES", "FIRST SEEN", "PACKAGE"}}
		for _, f := range s.Findings {
			rows = append(rows, []string{f.Kind, f.Severity, f.Category, DisplayPath(f.Path), strings.Join(f.Changes, ","),
				f.FirstSeen.Local().Format(time.DateTime), provenance(f.Package, f.ExplainedBy, f.ByHand)})
		}
		fitColumn(rows, 3, width)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, r := range rows {
			for len(r) > 1 && r[len(r)-1] == "" {
				r = r[:len(r)-1] // no padding after the last word
			}
			fmt.Fprintln(tw, strings.Join(r, "\t"))
		}
		tw.Flush()
		details := make([]*FindingJSON, len(s.Findings))
		for i := range s.Findings {
			details[i] = &s.Findings[i].FindingJSON
		}
		writeDetails(w, details)
	}
	for _, u := range s.Unverified {
		fmt.Fprintf(w, "unverified  %s: %s\n", DisplayPath(u.Path), u.Reason)
	}
	if len(s.Pending) > 0 {
		fmt.Fprintf(w, "first-boot paths changed before the seal (%s):\n", s.Seal.Reason)
		for _, f := range s.Pending {
			fmt.Fprintf(w, "  %s  %s  %s  %s\n", f.Kind, f.Severity, f.Category, DisplayPath(f.Path))
		}
	}
	return nil
}

// sessionText is one session in a line: who, from where, on which
// terminal or none, with which key, since when.
func sessionText(l SessionJSON) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s from %s", l.User, l.RemoteHost)
	if l.RemotePort != 0 {
		fmt.Fprintf(&b, " port %d", l.RemotePort)
	}
	if l.TTY != "" {
		b.WriteString(" on " + l.TTY)
	}
	if l.Key != "" {
		b.WriteString(", key " + l.Key)
	}
	if l.Session != 0 {
		fmt.Fprintf(&b, ", session %d", l.Session)
	}
	if l.SSHDPID != 0 {
		fmt.Fprintf(&b, ", sshd pid %d", l.SSHDPID)
	}
	fmt.Fprintf(&b, " since %s", l.Started.Local().Format(time.DateTime))
	return b.String()
}

// provenance says what accounts for a change: its package's update, or
// nothing (by hand).
func provenance(pkg string, explained *ExplanationJSON, byHand bool) string {
	switch {
	case explained != nil:
		return "explained by " + explained.Package + " " + versions(explained.Before, explained.After)
	case byHand && pkg != "":
		return pkg + ", by hand"
	case byHand:
		return "by hand"
	}
	return pkg
}

// StatusFilter narrows a status to some findings: at or below a path, of a
// category, at a severity or above. The verdict follows what is left: a
// view with no finding left is clean, unless the whole is not verified.
type StatusFilter struct {
	Path        string
	Category    string
	MinSeverity *baseline.Severity
}

// Apply returns s with only the findings the filter keeps.
func (f StatusFilter) Apply(s StatusJSON) StatusJSON {
	if f.Path == "" && f.Category == "" && f.MinSeverity == nil {
		return s
	}
	keep := func(path, category, severity string) bool {
		if f.Path != "" && path != f.Path && !strings.HasPrefix(path, strings.TrimSuffix(f.Path, "/")+"/") {
			return false
		}
		if f.Category != "" && category != f.Category {
			return false
		}
		if f.MinSeverity != nil {
			sev, err := baseline.ParseSeverity(severity)
			if err != nil || sev < *f.MinSeverity {
				return false
			}
		}
		return true
	}
	findings := s.Findings[:0:0]
	for _, x := range s.Findings {
		if keep(x.Path, x.Category, x.Severity) {
			findings = append(findings, x)
		}
	}
	pkgs := s.Packages[:0:0]
	for _, x := range s.Packages {
		if f.Path == "" && keep("", x.Category, x.Severity) {
			pkgs = append(pkgs, x)
		}
	}
	pending := s.Pending[:0:0]
	for _, x := range s.Pending {
		if keep(x.Path, x.Category, x.Severity) {
			pending = append(pending, x)
		}
	}
	unverified := s.Unverified[:0:0]
	for _, x := range s.Unverified {
		if f.Path == "" || keep(x.Path, f.Category, "critical") {
			unverified = append(unverified, x)
		}
	}
	s.Findings, s.Packages, s.Pending, s.Unverified = findings, pkgs, pending, unverified
	if s.Status == StatusDrift || s.Status == StatusUnsealed || s.Status == StatusClean {
		switch {
		case len(findings) > 0 || len(pkgs) > 0:
			s.Status = StatusDrift
		case len(pending) > 0:
			s.Status = StatusUnsealed
		default:
			s.Status = StatusClean
		}
	}
	return s
}

// fitColumn shortens the cells of column col, in their middle, so that the
// table's lines fit width (2 spaces between columns); a column is never
// made narrower than 24 characters. A width of 0 or less leaves it be.
func fitColumn(rows [][]string, col, width int) {
	if width <= 0 || len(rows) == 0 {
		return
	}
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	others := 0
	for i, w := range widths {
		if i != col {
			others += w + 2
		}
	}
	budget := max(width-others-1, 24)
	if widths[col] <= budget {
		return
	}
	for _, r := range rows {
		c := []rune(r[col])
		if len(c) > budget {
			head := (budget - 1) / 2
			r[col] = string(c[:head]) + "…" + string(c[len(c)-(budget-1-head):])
		}
	}
}

// TerminalWidth is the width of the terminal f is, or 0.
func TerminalWidth(f *os.File) int {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Col)
}
