package agent

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"driftd/baseline"
	"driftd/baseline/check"
)

func testRules(t *testing.T) *baseline.Rules {
	t.Helper()
	rs, err := baseline.CompileRules([]baseline.RuleConfig{
		{Paths: []string{"/**"}, Category: "system", Severity: "medium"},
		{Paths: []string{"/etc/ssh/**"}, Category: "ssh", Severity: "critical"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func finding(rs *baseline.Rules, path string, kind baseline.Kind, digest byte) baseline.Finding {
	after := &baseline.Entry{Path: path, Type: baseline.TypeRegular, Digest: [32]byte{digest}}
	return baseline.Finding{Path: path, Kind: kind, Changes: baseline.AttrContent, Rule: rs.Match(path), After: after}
}

func events(changes []Change) string {
	var s []string
	for _, c := range changes {
		s = append(s, string(c.Event)+" "+c.Finding.Path)
	}
	return fmt.Sprint(s)
}

func TestFindingsApply(t *testing.T) {
	rs := testRules(t)
	s := newFindings()
	now := time.Unix(1000, 0)
	res := func(fs ...baseline.Finding) check.Result { return check.Result{Result: baseline.Result{Findings: fs}} }

	steps := []struct {
		scope scopes
		res   check.Result
		want  string
	}{
		{scopes{"/": true}, res(finding(rs, "/a", baseline.Modified, 1), finding(rs, "/etc/ssh/x", baseline.Modified, 1)), "[drift /a drift /etc/ssh/x]"},
		{scopes{"/": true}, res(finding(rs, "/a", baseline.Modified, 1), finding(rs, "/etc/ssh/x", baseline.Modified, 1)), "[]"},
		{scopes{"/a": true}, res(finding(rs, "/a", baseline.Modified, 2)), "[changed /a]"},
		// A re-check of /b does not touch /a or /etc/ssh/x.
		{scopes{"/b": true}, res(), "[]"},
		{scopes{"/etc": true}, res(), "[reverted /etc/ssh/x]"},
	}
	for i, st := range steps {
		if got := events(s.apply(st.scope, st.res, now.Add(time.Duration(i)*time.Second))); got != st.want {
			t.Errorf("step %d: %s, want %s", i, got, st.want)
		}
	}
	if first := s.current["/a"].FirstSeen; !first.Equal(now) {
		t.Errorf("a finding that changed again kept first-seen %v, want %v", first, now)
	}
	if got := s.classes(); fmt.Sprint(got) != fmt.Sprint(map[baseline.Class]int{{Category: "system", Severity: baseline.SeverityMedium}: 1}) {
		t.Errorf("classes %v", got)
	}
}

func TestFindingsPendingAreNotDrift(t *testing.T) {
	rs := testRules(t)
	s := newFindings()
	r := check.Result{Pending: []baseline.Finding{finding(rs, "/etc/hostname", baseline.Modified, 1)}}
	if got := s.apply(scopes{"/": true}, r, time.Now()); len(got) != 0 || len(s.current) != 0 || s.pending["/etc/hostname"] == nil {
		t.Errorf("pending: events %s, current %d, pending %v", events(got), len(s.current), s.pending)
	}
	s.apply(scopes{"/etc": true}, check.Result{}, time.Now())
	if len(s.pending) != 0 {
		t.Errorf("a re-check of /etc kept %v pending", s.pending)
	}
}

// A saved state restores each finding with its class, announces nothing
// when the first comparison finds the same drift, and keeps the package
// findings.
func TestFindingsSaveLoad(t *testing.T) {
	rs := testRules(t)
	s := newFindings()
	seen := time.Unix(2000, 0).UTC()
	s.apply(scopes{"/": true}, check.Result{Result: baseline.Result{Findings: []baseline.Finding{finding(rs, "/etc/ssh/sshd_config", baseline.Modified, 1)}}}, seen)
	by := &baseline.Actor{PID: 812, Comm: "sed", Exe: "/usr/bin/sed", User: "root", LoginUID: 0, Session: 3,
		Login: &baseline.Login{User: "root", From: "10.0.0.5", Key: "SHA256:k", SSHDPID: 800, Session: 3}}
	s.current["/etc/ssh/sshd_config"].By = by
	pkgs := []baseline.PackageFinding{{Kind: baseline.Added, After: baseline.Package{Manager: "dpkg", Name: "nmap", Version: "7.9", Arch: "amd64"}}}
	path := filepath.Join(t.TempDir(), "findings.json")
	if err := s.save(path, "id1", pkgs); err != nil {
		t.Fatal(err)
	}

	r := newFindings()
	gotPkgs, err := r.load(path, "id1", rs)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(gotPkgs) != fmt.Sprint(pkgs) {
		t.Errorf("packages %v, want %v", gotPkgs, pkgs)
	}
	tr := r.current["/etc/ssh/sshd_config"]
	if tr == nil || tr.Rule.Category != "ssh" || tr.Rule.Severity != baseline.SeverityCritical || !tr.FirstSeen.Equal(seen) {
		t.Fatalf("restored %+v", tr)
	}
	again := check.Result{Result: baseline.Result{Findings: []baseline.Finding{finding(rs, "/etc/ssh/sshd_config", baseline.Modified, 1)}}}
	if got := r.apply(scopes{"/": true}, again, time.Now()); len(got) != 0 {
		t.Errorf("the same drift after a restart was announced: %s", events(got))
	}
	if got := r.current["/etc/ssh/sshd_config"].By; got == nil || *got.Login != *by.Login || got.Exe != by.Exe {
		t.Errorf("who made it, after a restart and the first comparison: %+v, want %+v", got, by)
	}
	if other, _ := newFindings().load(path, "id2", rs); other != nil {
		t.Errorf("a state of another baseline was restored")
	}
}
