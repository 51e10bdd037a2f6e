package reporter

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"driftd/baseline"
)

// WriteManifestText lists a manifest for a person: its header, then one
// line per entry in the manner of ls -l.
func WriteManifestText(w io.Writer, m *baseline.Manifest) error {
	bw := bufio.NewWriter(w)
	h := &m.Header
	verified := "signature not checked"
	if m.Verified {
		verified = "signature verified"
	}
	fmt.Fprintf(bw, "baseline %s (%s, key %s)\n", m.ID(), verified, h.KeyID)
	fmt.Fprintf(bw, "format %d, driftd %s, %s, created %s\n", h.Format, h.DriftdVersion, h.Hash, time.Unix(h.Created, 0).UTC().Format(time.RFC3339))
	if len(h.Labels) > 0 {
		fmt.Fprintf(bw, "labels %s\n", strings.TrimPrefix(labelText(h.Labels), ", "))
	}
	c := h.Counts
	fmt.Fprintf(bw, "%d entries: %d files (%d bytes), %d directories, %d unreadable; rules %s\n",
		c.Entries, c.Files, c.Bytes, c.Dirs, c.Errors, h.RulesDigest[:min(12, len(h.RulesDigest))])
	if h.OS != nil {
		fmt.Fprintf(bw, "os %s %s (%s)\n", h.OS.ID, h.OS.VersionID, h.OS.Name)
	}
	for _, s := range h.PackageManagers {
		fmt.Fprintf(bw, "packages %s: %s, %d packages", s.Manager, s.Status, s.Packages)
		if s.Reason != "" {
			fmt.Fprintf(bw, " (%s)", s.Reason)
		}
		bw.WriteByte('\n')
	}
	for i := range m.Packages {
		p := &m.Packages[i]
		fmt.Fprintf(bw, "package %s %s %s\n", p.Manager, packageName(p), p.Version)
	}
	m.Entries.All(func(_ int, e *baseline.Entry) bool {
		detail := ""
		switch {
		case e.Err != "":
			detail = "error: " + e.Err
		case e.HasDigest():
			detail = m.Header.ContentHash().String() + ":" + hex.EncodeToString(e.Digest[:])
		case e.Type == baseline.TypeSymlink:
			detail = "-> " + DisplayPath(e.Target)
		case e.Type == baseline.TypeCharDevice || e.Type == baseline.TypeBlockDevice:
			detail = fmt.Sprintf("dev %d,%d", e.Rdev>>8&0xfff|e.Rdev>>32&^0xfff, e.Rdev&0xff|e.Rdev>>12&^0xff)
		}
		fmt.Fprintf(bw, "%s %5d %5d %10d %s %s", e.FileMode(), e.UID, e.GID, e.Size,
			time.Unix(0, e.Mtime).UTC().Format("2006-01-02T15:04:05Z"), DisplayPath(e.Path))
		if detail != "" {
			fmt.Fprintf(bw, " %s", detail)
		}
		bw.WriteByte('\n')
		return true
	})
	return bw.Flush()
}

// ManifestJSON is the JSON form of a manifest's header and packages.
type ManifestJSON struct {
	BaselineID string             `json:"baseline_id"`
	Verified   bool               `json:"verified"`
	Header     baseline.Header    `json:"header"`
	Packages   []baseline.Package `json:"packages"`
}

// WriteManifestJSON writes a manifest as one JSON document, streaming the
// entries so that a large image does not need its JSON in memory.
func WriteManifestJSON(w io.Writer, m *baseline.Manifest) error {
	bw := bufio.NewWriter(w)
	pkgs := m.Packages
	if pkgs == nil {
		pkgs = []baseline.Package{}
	}
	head, err := json.Marshal(ManifestJSON{BaselineID: m.ID(), Verified: m.Verified, Header: m.Header, Packages: pkgs})
	if err != nil {
		return err
	}
	bw.Write(head[:len(head)-1])
	bw.WriteString(`,"entries":[`)
	m.Entries.All(func(i int, entry *baseline.Entry) bool {
		if i > 0 {
			bw.WriteByte(',')
		}
		e := NewEntryJSON(entry, m.Header.ContentHash(), true)
		if o := m.Owner(i); o != nil {
			e.Package = o.Name
		}
		var b []byte
		if b, err = json.Marshal(e); err != nil {
			return false
		}
		bw.WriteString("\n")
		bw.Write(b)
		return true
	})
	if err != nil {
		return err
	}
	bw.WriteString("\n]}\n")
	return bw.Flush()
}

// DiffReport is what changed between two images.
type DiffReport struct {
	From, To        *baseline.Manifest
	Result          baseline.Result
	Packages        []baseline.PackageFinding
	PackageSeverity baseline.Severity
}

// WriteText writes the diff for a person.
func (d *DiffReport) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "driftd diff %s%s -> %s%s: %d paths and %d packages differ\n",
		d.From.ID(), labelParens(d.From.Header.Labels), d.To.ID(), labelParens(d.To.Header.Labels), len(d.Result.Findings), len(d.Packages))
	if err := writeFindingsText(w, d.Result.Findings, d.Packages, d.PackageSeverity); err != nil {
		return err
	}
	for _, u := range d.Result.Unverified {
		fmt.Fprintf(w, "unverified  %s: %s\n", DisplayPath(u.Path), u.Reason)
	}
	return nil
}

// DiffJSON is the JSON form of a diff.
type DiffJSON struct {
	From       string               `json:"from"`
	To         string               `json:"to"`
	FromLabels map[string]string    `json:"from_labels,omitempty"`
	ToLabels   map[string]string    `json:"to_labels,omitempty"`
	Packages   []PackageFindingJSON `json:"packages"`
	Findings   []FindingJSON        `json:"findings"`
	Unverified []UnverifiedJSON     `json:"unverified"`
}

// WriteJSON writes the diff as one JSON document.
func (d *DiffReport) WriteJSON(w io.Writer) error {
	j := DiffJSON{
		From: d.From.ID(), To: d.To.ID(),
		FromLabels: d.From.Header.Labels, ToLabels: d.To.Header.Labels,
		Packages:   make([]PackageFindingJSON, 0, len(d.Packages)),
		Findings:   make([]FindingJSON, 0, len(d.Result.Findings)),
		Unverified: make([]UnverifiedJSON, 0, len(d.Result.Unverified)),
	}
	for i := range d.Packages {
		j.Packages = append(j.Packages, NewPackageFindingJSON(&d.Packages[i], d.PackageSeverity))
	}
	for i := range d.Result.Findings {
		j.Findings = append(j.Findings, NewFindingJSON(&d.Result.Findings[i]))
	}
	for _, u := range d.Result.Unverified {
		j.Unverified = append(j.Unverified, NewUnverifiedJSON(u))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(j)
}

// labelParens renders labels as " (k=v, ...)", or nothing.
func labelParens(labels map[string]string) string {
	if len(labels) == 0 {
		return ""
	}
	return " (" + strings.TrimPrefix(labelText(labels), ", ") + ")"
}
