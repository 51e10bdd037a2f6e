package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"driftd/agent/config"
	"driftd/baseline"
)

// errUsage is a command line that flag parsing has already complained about.
var errUsage = errors.New("usage")

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("driftd "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses flags that may come before, between or after the positional
// arguments, and checks the number of positionals.
func parse(fs *flag.FlagSet, args []string, positionals int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != positionals {
		fmt.Fprintf(fs.Output(), "%s: want %d arguments, got %d\n", fs.Name(), positionals, len(pos))
		fs.Usage()
		return nil, errUsage
	}
	return pos, nil
}

// labels collects repeated --label k=v flags.
type labels map[string]string

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// String is for flag.Value.
func (l labels) String() string { return fmt.Sprint(map[string]string(l)) }

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

func scopeFlags(fs *flag.FlagSet) (configPath, root *string) {
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
