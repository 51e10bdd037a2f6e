package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/pflag"

	"driftd/agent/config"
	"driftd/baseline"
)

// labels collects repeated --label k=v flags.
type labels map[string]string

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// String is for pflag.Value.
func (l labels) String() string { return fmt.Sprint(map[string]string(l)) }

// Type names the value in help.
func (l labels) Type() string { return "key=value" }

// Set adds one key=value label; a key given twice is an error.
func (l labels) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("label %q: want key=value", s)
	}
	if !labelName.MatchString(k) {
		return fmt.Errorf("label %q: the key must be a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)", k)
	}
	if _, dup := l[k]; dup {
		return fmt.Errorf("label %q given twice", k)
	}
	l[k] = v
	return nil
}

// scope is what bake and check share: a config and the root it applies to.
type scope struct {
	config       *config.Loaded
	rules        *baseline.Rules // the config's, with the SSH paths derived from the root
	root         string
	stopProgress func() // ends the progress line, if one is drawn
}

func scopeFlags(fs *pflag.FlagSet) (configPath, root *string) {
	configPath = fs.String("config", "", "config file (default: the embedded default config)")
	root = fs.String("root", "/", "the image root: a mounted image, a container rootfs, or / for this host")
	return
}

// loadScope loads the config and checks the root is a directory.
func loadScope(configPath, root string) (*scope, error) {
	cfg, err := config.Load(configPath)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("root: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("root %s: not a directory", root)
	}
	return &scope{config: cfg, rules: cfg.Rules, root: root, stopProgress: func() {}}, nil
}

// withSSH adds rules for the SSH paths derived from the root, and for
// driftd's own files, as check and the daemon add them.
func (s *scope) withSSH(paths []string) error {
	rules, err := s.config.Rules.WithSSH(paths)
	if err == nil {
		rules, err = rules.WithSelf(baseline.SelfPaths(s.config.Baseline.PublicKey))
	}
	if err != nil {
		return err
	}
	s.rules = rules
	return nil
}

// inRoot resolves a path from the config, which is inside the root.
func (s *scope) inRoot(p string) string { return filepath.Join(s.root, p) }
