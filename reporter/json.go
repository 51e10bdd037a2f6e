package reporter

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"driftd/baseline"
)

// EntryJSON is an entry as JSON. Paths and symlink targets are raw bytes:
// where they are not valid UTF-8 the exact bytes are in the _base64 field
// beside the readable (lossy) one, so they round-trip.
type EntryJSON struct {
	Path         string            `json:"path,omitempty"`
	PathBase64   string            `json:"path_base64,omitempty"`
	Type         string            `json:"type"`
	Mode         string            `json:"mode"`
	UID          uint32            `json:"uid"`
	GID          uint32            `json:"gid"`
	Size         int64             `json:"size"`
	Mtime        string            `json:"mtime"`
	Ctime        string            `json:"ctime"`
	Inode        uint64            `json:"inode"`
	Nlink        uint64            `json:"nlink"`
	SHA256       string            `json:"sha256,omitempty"` // the digest, under its hash's name
	BLAKE3       string            `json:"blake3,omitempty"`
	Target       string            `json:"target,omitempty"`
	TargetBase64 string            `json:"target_base64,omitempty"`
	Rdev         *uint64           `json:"rdev,omitempty"`
	Xattrs       map[string]string `json:"xattrs,omitempty"` // name: digest of the value, by the same hash
	Error        string            `json:"error,omitempty"`
	Package      string            `json:"package,omitempty"` // the package that installs it (driftd show)
}

// NewEntryJSON renders e, whose digests are by alg; withPath includes its
// path.
func NewEntryJSON(e *baseline.Entry, alg baseline.Hash, withPath bool) *EntryJSON {
	if e == nil {
		return nil
	}
	j := &EntryJSON{
		Type:  e.Type.String(),
		Mode:  fmt.Sprintf("%04o", e.Mode),
		UID:   e.UID,
		GID:   e.GID,
		Size:  e.Size,
		Mtime: formatNanos(e.Mtime),
		Ctime: formatNanos(e.Ctime),
		Inode: e.Inode,
		Nlink: e.Nlink,
		Error: e.Err,
	}
	if withPath {
		j.Path, j.PathBase64 = RawString(e.Path)
	}
	if e.HasDigest() {
		if alg == baseline.BLAKE3 {
			j.BLAKE3 = hex.EncodeToString(e.Digest[:])
		} else {
			j.SHA256 = hex.EncodeToString(e.Digest[:])
		}
	}
	if e.Type == baseline.TypeSymlink {
		j.Target, j.TargetBase64 = RawString(e.Target)
	}
	if e.Type == baseline.TypeCharDevice || e.Type == baseline.TypeBlockDevice {
		rdev := e.Rdev
		j.Rdev = &rdev
	}
	if len(e.Xattrs) > 0 {
		j.Xattrs = make(map[string]string, len(e.Xattrs))
		for _, x := range e.Xattrs {
			j.Xattrs[x.Name] = hex.EncodeToString(x.Digest[:])
		}
	}
	return j
}

// RawString returns s for a JSON string, plus its base64 when s is not
// valid UTF-8 (encoding/json would replace the invalid bytes).
func RawString(s string) (text, b64 string) {
	if utf8.ValidString(s) {
		return s, ""
	}
	return s, base64.StdEncoding.EncodeToString([]byte(s))
}

func formatNanos(ns int64) string {
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}

// FindingJSON is a finding as JSON, per the design's contract.
type FindingJSON struct {
	Path       string   `json:"path"`
	PathBase64 string   `json:"path_base64,omitempty"`
	Kind       string   `json:"kind"`
	Changes    []string `json:"changes,omitempty"`
	Rule       string   `json:"rule"`
	Category   string   `json:"category"`
	Severity   string   `json:"severity"`
	// Package is the package that installs the path, when known.
	Package     string           `json:"package,omitempty"`
	ExplainedBy *ExplanationJSON `json:"explained_by,omitempty"`
	// ByHand: no package change accounts for the change.
	ByHand bool       `json:"by_hand,omitempty"`
	Before *EntryJSON `json:"before,omitempty"`
	After  *EntryJSON `json:"after,omitempty"`
	// By is who made the change, when the daemon saw it made.
	By *ActorJSON `json:"by,omitempty"`
	// Diff is a text file's content change as a unified diff, against the
	// content the bake kept; DiffNote says why a content change has none.
	Diff     string `json:"diff,omitempty"`
	DiffNote string `json:"diff_note,omitempty"`
}

// ActorJSON is who made a change: the process, and the SSH login it ran
// under. LoginUID and Session are absent when no login set them.
type ActorJSON struct {
	PID      int    `json:"pid"`
	Comm     string `json:"comm,omitempty"`
	Exe      string `json:"exe,omitempty"`
	UID      int    `json:"uid"`
	User     string `json:"user,omitempty"`
	LoginUID *int   `json:"loginuid,omitempty"`
	Session  *int   `json:"session,omitempty"`
	// Ancestors are the pids of the writer's ancestors, parent first.
	Ancestors []int        `json:"ancestors,omitempty"`
	Login     *SessionJSON `json:"login,omitempty"`
	// Text is the actor in one line, as the text reports give it.
	Text string `json:"text"`
}

// NewActorJSON renders an actor; nil for none.
func NewActorJSON(a *baseline.Actor) *ActorJSON {
	if a == nil {
		return nil
	}
	j := &ActorJSON{PID: a.PID, Comm: a.Comm, Exe: a.Exe, UID: a.UID, User: a.User, Ancestors: a.Ancestors, Text: ActorText(a)}
	if a.LoginUID >= 0 {
		j.LoginUID = &a.LoginUID
	}
	if a.Session >= 0 {
		j.Session = &a.Session
	}
	if a.Login != nil {
		j.Login = NewLoginJSON(a.Login)
	}
	return j
}

// NewLoginJSON renders an SSH login read from sshd's log.
func NewLoginJSON(l *baseline.Login) *SessionJSON {
	return &SessionJSON{User: l.User, RemoteHost: l.From, RemotePort: l.Port, Method: l.Method, Key: l.Key,
		SSHDPID: l.SSHDPID, Session: max(l.Session, 0), TTY: l.TTY, Started: l.Started}
}

// ActorText is an actor in one line: "by root (sshd session 12 from
// 10.0.0.5, key SHA256:...) via /usr/bin/vim", or by uid and pid where
// there is no name and no login.
func ActorText(a *baseline.Actor) string {
	var b strings.Builder
	b.WriteString("by ")
	if a.User != "" {
		b.WriteString(a.User)
	} else {
		fmt.Fprintf(&b, "uid %d", a.UID)
	}
	if l := a.Login; l != nil {
		b.WriteString(" (sshd session ")
		if l.Session >= 0 {
			fmt.Fprintf(&b, "%d", l.Session)
		} else {
			fmt.Fprintf(&b, "pid %d", l.SSHDPID)
		}
		if l.User != a.User {
			b.WriteString(" of " + l.User) // su or sudo since
		}
		b.WriteString(" from " + l.From)
		if l.Key != "" {
			b.WriteString(", key " + l.Key)
		}
		b.WriteString(")")
	} else if a.Session >= 0 {
		fmt.Fprintf(&b, " (audit session %d, no SSH login seen)", a.Session)
	}
	switch {
	case a.Exe != "":
		fmt.Fprintf(&b, " via %s", a.Exe)
	case a.Comm != "":
		fmt.Fprintf(&b, " via %s", a.Comm)
	}
	fmt.Fprintf(&b, " [pid %d]", a.PID)
	return b.String()
}

// packageOf is a finding's owning package and its explanation, as JSON.
func packageOf(f *baseline.Finding) (pkg string, explained *ExplanationJSON) {
	if f.Owner != nil {
		pkg = f.Owner.Name
	}
	if e := f.ExplainedBy; e != nil {
		explained = &ExplanationJSON{Manager: e.Manager, Package: e.Package, Before: e.Before, After: e.After}
	}
	return pkg, explained
}

// ExplanationJSON is the package change that accounts for a file change.
type ExplanationJSON struct {
	Manager string `json:"manager"`
	Package string `json:"package"`
	Before  string `json:"before,omitempty"` // the version baked; empty for a new package
	After   string `json:"after,omitempty"`  // the version now; empty for a removed package
}

// PackageFindingJSON is a package added, removed or changed since the bake.
type PackageFindingJSON struct {
	Kind     string `json:"kind"`
	Change   string `json:"change"` // as driftd_package_drift labels it
	Category string `json:"category"`
	Severity string `json:"severity"`
	Manager  string `json:"manager"`
	Name     string `json:"name"`
	Arch     string `json:"arch,omitempty"`
	Before   string `json:"before,omitempty"` // version
	After    string `json:"after,omitempty"`  // version
}

// NewPackageFindingJSON renders a package finding.
func NewPackageFindingJSON(f *baseline.PackageFinding, sev baseline.Severity) PackageFindingJSON {
	p := f.Package()
	return PackageFindingJSON{
		Kind: f.Kind.String(), Change: f.Change(), Category: baseline.PackageCategory, Severity: sev.String(),
		Manager: p.Manager, Name: p.Name, Arch: p.Arch, Before: f.Before.Version, After: f.After.Version,
	}
}

// NewFindingJSON renders f.
func NewFindingJSON(f *baseline.Finding) FindingJSON {
	j := FindingJSON{
		Kind:     f.Kind.String(),
		Changes:  f.Changes.Names(),
		Rule:     f.Rule.Pattern,
		Category: f.Rule.Category,
		Severity: f.Rule.Severity.String(),
		Before:   NewEntryJSON(f.Before, f.Hash, false),
		After:    NewEntryJSON(f.After, f.Hash, false),
		ByHand:   f.ByHand,
		By:       NewActorJSON(f.By),
		Diff:     f.Diff,
		DiffNote: f.DiffNote,
	}
	j.Package, j.ExplainedBy = packageOf(f)
	j.Path, j.PathBase64 = RawString(f.Path)
	return j
}

// UnverifiedJSON is a path that could not be verified.
type UnverifiedJSON struct {
	Path       string `json:"path"`
	PathBase64 string `json:"path_base64,omitempty"`
	Reason     string `json:"reason"`
}

// NewUnverifiedJSON renders an unverified path.
func NewUnverifiedJSON(u baseline.Unverified) UnverifiedJSON {
	j := UnverifiedJSON{Reason: u.Reason}
	j.Path, j.PathBase64 = RawString(u.Path)
	return j
}

// DisplayPath renders a raw path for a terminal: as is when it is printable
// UTF-8, else Go-quoted, so a newline or a stray byte cannot forge a line.
func DisplayPath(p string) string {
	if !utf8.ValidString(p) {
		return strconv.Quote(p)
	}
	for _, r := range p {
		if !unicode.IsPrint(r) || r == '"' || r == '\\' {
			return strconv.Quote(p)
		}
	}
	return p
}
