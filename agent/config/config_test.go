package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"driftd/agent/policy"
)

func TestDefault(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path     string
		ignore   bool
		category string
		severity string
	}{
		{"/usr/bin/ls", false, "binaries", "critical"},
		{"/usr/lib/x86_64-linux-gnu/libc.so.6", false, "binaries", "critical"},
		{"/etc/hostname", false, "config", "high"},
		{"/etc/ssh/sshd_config", false, "ssh", "critical"},
		{"/home/admin/.ssh/authorized_keys", false, "ssh", "critical"},
		{"/root/.ssh/authorized_keys", false, "ssh", "critical"},
		{"/etc/pam.d/sshd", false, "ssh", "critical"},
		{"/etc/sudoers.d/admin", false, "access", "critical"},
		{"/var/spool/cron/crontabs/root", false, "access", "critical"},
		{"/usr/share/doc/bash/README", false, "system", "medium"},
		{"/proc/1/status", true, "", ""},
		{"/var/log/syslog", true, "", ""},
		{"/var/lib/apt/lists/x", true, "", ""},
		{"/var/lib/driftd/state.json", true, "", ""},
		{"/etc/driftd/baseline.manifest", true, "", ""},
		{"/tmp/x", true, "", ""},
	}
	for _, tt := range tests {
		r := c.Rules.Match(tt.path)
		if r.Ignore != tt.ignore || (!tt.ignore && (r.Category != tt.category || r.Severity.String() != tt.severity)) {
			t.Errorf("%s: ignore=%t category=%q severity=%s (rule %s), want ignore=%t %q %s",
				tt.path, r.Ignore, r.Category, r.Severity, r.Pattern, tt.ignore, tt.category, tt.severity)
		}
	}
	// The mutable areas are pruned, not walked and dropped.
	for _, dir := range []string{"/proc", "/sys", "/dev", "/run", "/tmp", "/var/log", "/var/cache"} {
		if !c.Rules.CanPrune(dir, c.Rules.Match(dir)) {
			t.Errorf("%s is walked: it should be pruned", dir)
		}
	}
}

const goodConfig = `[baseline]
path = "/m"
public_key = "/k"

[scan]
workers = 2

[[rule]]
paths = ["/**"]
category = "system"
severity = "high"
`

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		config string
		want   []string // every one must be in the one-line error
	}{
		{"unknown key in a table", strings.Replace(goodConfig, "workers = 2", "workers = 2\nwrokers = 3", 1),
			[]string{"cfg.toml", "line 7", "unknown key scan.wrokers"}},
		{"unknown key in a rule", goodConfig + "colour = \"red\"\n",
			[]string{"cfg.toml", "line 12", "unknown key rule.colour"}},
		{"unknown table", goodConfig + "[extra]\nx = 1\n",
			[]string{"cfg.toml", "line 12", "unknown key extra"}},
		{"wrong type", strings.Replace(goodConfig, "workers = 2", `workers = "two"`, 1),
			[]string{"cfg.toml", "line 6", "scan.workers"}},
		{"wrong type in a rule", strings.Replace(goodConfig, `paths = ["/**"]`, `paths = "/**"`, 1),
			[]string{"cfg.toml", "line 9", "rule.paths"}},
		{"syntax", "[scan]\nworkers = = 2\n", []string{"cfg.toml", "line 2"}},
		{"bad severity", strings.Replace(goodConfig, `"high"`, `"urgent"`, 1),
			[]string{"cfg.toml", `unknown severity "urgent"`}},
		{"no rules", "[baseline]\npath = \"/m\"\n", []string{"cfg.toml", "no [[rule]]"}},
		{"negative workers", strings.Replace(goodConfig, "workers = 2", "workers = -1", 1),
			[]string{"cfg.toml", "scan.workers is -1"}},
		{"bad policy severity", goodConfig + "[policy]\nmin_severity = \"severe\"\n",
			[]string{"cfg.toml", "policy.min_severity", `unknown severity "severe"`}},
		{"hook through a shell lookup", goodConfig + "[policy.hook]\ncommand = [\"aws\", \"autoscaling\"]\n",
			[]string{"cfg.toml", `policy.hook.command[0] is "aws"`, "absolute path"}},
		{"first_boot and ignore", goodConfig + "[[rule]]\npaths = [\"/etc/hostname\"]\nignore = true\nfirst_boot = true\n",
			[]string{"cfg.toml", "first_boot paths cannot be ignored"}},
	}
	if _, err := Parse([]byte(goodConfig), "cfg.toml"); err != nil {
		t.Fatalf("the good config fails: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.config), "cfg.toml")
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add(string(Default))
	f.Add(goodConfig)
	f.Add("[[rule]]\npaths = [\"/a/**/b\", \"/*?\"]\ncategory = \"x\"\nseverity = \"low\"\nattributes = [\"+inode\"]\n")
	f.Fuzz(func(t *testing.T, config string) {
		c, err := Parse([]byte(config), "fuzz.toml")
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
			return
		}
		c.Rules.Match("/etc/ssh/sshd_config")
		c.Rules.CanPrune("/var", c.Rules.Match("/var"))
	})
}

// TestTypeErrorInLaterRule: the TOML library reports a key in an array of
// tables at its last definition; the error must name the bad one.
func TestTypeErrorInLaterRule(t *testing.T) {
	config := goodConfig + "\n[[rule]]\npaths = [\"/etc/**\"]\ncategory = 7\nseverity = \"high\"\n\n[[rule]]\npaths = [\"/x\"]\ncategory = \"y\"\nseverity = \"low\"\n"
	_, err := Parse([]byte(config), "cfg.toml")
	if err == nil || !strings.Contains(err.Error(), "line 15: key rule.category") {
		t.Errorf("err = %v, want line 15", err)
	}
}

// TestPackagedConfigIsTheDefault: the packages install packaging/driftd.toml
// as /etc/driftd/driftd.toml; it must be the config driftd embeds.
func TestPackagedConfigIsTheDefault(t *testing.T) {
	packaged, err := os.ReadFile("../../packaging/driftd.toml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(packaged, Default) {
		t.Error("packaging/driftd.toml differs from agent/config/driftd.toml: copy one over the other")
	}
}

// The default config's marker is the one policy.ForRoot keeps off image
// roots.
func TestDefaultMarkerIsTheHosts(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Policy.MarkerFile != policy.HostMarker {
		t.Errorf("default marker %q, policy.HostMarker %q", c.Policy.MarkerFile, policy.HostMarker)
	}
}

// layered writes a main config and drop-ins into a temporary /etc/driftd
// and returns the main file's path.
func layered(t *testing.T, main string, dropIns map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, DropInDir), 0o755)
	path := filepath.Join(dir, "driftd.toml")
	os.WriteFile(path, []byte(main), 0o644)
	for name, body := range dropIns {
		os.WriteFile(filepath.Join(dir, DropInDir, name), []byte(body), 0o644)
	}
	return path
}

func TestLayering(t *testing.T) {
	path := layered(t, "[policy]\nmin_severity = \"high\"\n[schedule]\nfast_interval = \"5m\"\n", map[string]string{
		// Lexical order: 20 comes after 10 and wins.
		"20-later.toml": "[schedule]\nfast_interval = \"2m\"\n",
		"10-rules.toml": "[[rule]]\npaths = [\"/work/**\"]\nignore = true\n",
		"README":        "not a drop-in: no .toml",
	})
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(path)
	if l.Policy.MinSeverity != "high" || l.Schedule.FastInterval.Duration != 2*time.Minute {
		t.Errorf("precedence: min_severity %q, fast_interval %s", l.Policy.MinSeverity, l.Schedule.FastInterval)
	}
	if l.Baseline.Path != "/etc/driftd/baseline.manifest" || l.Schedule.FullInterval.Duration != 24*time.Hour {
		t.Errorf("a partial file lost the default's values: %+v", l.Config.Baseline)
	}
	def, _ := Load("")
	if len(l.Config.Rules) != len(def.Config.Rules)+1 || !l.Rules.Match("/work/x").Ignore || l.Rules.Match("/usr/bin/ls").Category != "binaries" {
		t.Errorf("rules: %d, want the default's %d and one more", len(l.Config.Rules), len(def.Config.Rules))
	}
	for key, want := range map[string]string{
		"policy.min_severity":                         path,
		"schedule.fast_interval":                      filepath.Join(dir, DropInDir, "20-later.toml"),
		"schedule.full_interval":                      DefaultName,
		fmt.Sprintf("rule.%d", len(def.Config.Rules)): filepath.Join(dir, DropInDir, "10-rules.toml"),
	} {
		if got := l.Origins[key]; got != want {
			t.Errorf("origin of %s: %q, want %q", key, got, want)
		}
	}
	var shown bytes.Buffer
	if err := l.Show(&shown); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(shown.String(), `fast_interval = "2m0s"  # from `+filepath.Join(dir, DropInDir, "20-later.toml")) {
		t.Errorf("config show:\n%s", shown.String())
	}
}

// The packaged config is a copy of the default: as the main file it adds
// no rule twice.
func TestLayeringPackagedCopy(t *testing.T) {
	l, err := Load(layered(t, string(Default), nil))
	if err != nil {
		t.Fatal(err)
	}
	def, _ := Load("")
	if len(l.Config.Rules) != len(def.Config.Rules) || l.Rules.Digest() != def.Rules.Digest() {
		t.Errorf("the packaged copy gave %d rules, digest %s; the default %d, %s", len(l.Config.Rules), l.Rules.Digest(), len(def.Config.Rules), def.Rules.Digest())
	}
}

// A bad drop-in is one line naming its file and line.
func TestLayeringBadDropIn(t *testing.T) {
	path := layered(t, "", map[string]string{"50-bad.toml": "# a comment\n[policy]\nmin_severty = \"high\"\n"})
	_, err := Load(path)
	want := "config " + filepath.Join(filepath.Dir(path), DropInDir, "50-bad.toml") + ": line 3: unknown key policy.min_severty"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}
