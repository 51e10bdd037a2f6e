package reporter

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteStatusText renders the daemon's view for a person.
func WriteStatusText(w io.Writer, s *StatusJSON) error {
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
		fmt.Fprintln(w)
	}
	if src := s.SSH.Source; src != "" {
		fmt.Fprintf(w, "%d ssh sessions (from %s), %d remote logins since start\n", len(s.SSH.Sessions), src, s.SSH.Logins)
		for _, l := range s.SSH.Sessions {
			fmt.Fprintf(w, "  %s from %s on %s since %s\n", l.User, l.RemoteHost, l.TTY, l.Started.Local().Format(time.DateTime))
		}
	}
	for _, p := range s.Packages {
		fmt.Fprintf(w, "%s  %s  package  %s %s  %s\n", p.Kind, p.Severity, p.Manager, p.Name, versions(p.Before, p.After))
	}
	for _, u := range s.PackagesUnverified {
		fmt.Fprintf(w, "unverified  %s\n", u)
	}
	if len(s.Findings) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KIND\tSEVERITY\tCATEGORY\tPATH\tCHANGES\tFIRST SEEN\tPACKAGE")
		for _, f := range s.Findings {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Kind, f.Severity, f.Category, DisplayPath(f.Path),
				strings.Join(f.Changes, ","), f.FirstSeen.Local().Format(time.DateTime), provenance(f.Package, f.ExplainedBy, f.ByHand))
		}
		tw.Flush()
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
