// Command driftd enforces immutability on hosts built from baked images.
// This package only parses flags and wires the other packages together.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time from git describe.
var version = "dev"

// Exit codes, shared by every command: check's 0 clean, 1 drift, 2 could
// not verify; any error is 2.
const (
	exitOK         = 0
	exitDrift      = 1
	exitUnverified = 2
)

// errDrift and errUnverified end a command that has already said why.
var (
	errDrift      = errors.New("drift")
	errUnverified = errors.New("not verified")
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run runs the command line and maps its outcome to an exit code; an
// error is one line on stderr naming the command.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	name := "driftd"
	if cmd != nil {
		name = cmd.CommandPath()
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errDrift), errors.Is(err, errTainted):
		return exitDrift
	case errors.Is(err, errUnverified):
		return exitUnverified
	case errors.Is(err, errNotRoot):
		fmt.Fprintf(stderr, "%s %v\n", name, err)
	case isUsageError(err):
		fmt.Fprintf(stderr, "%s: %v (see %s --help)\n", name, err, name)
	default:
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
	}
	return exitUnverified
}

// isUsageError reports whether err is about the command line itself, as
// cobra and pflag word it.
func isUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown flag", "unknown shorthand", "unknown command", "flag needs an argument", "invalid argument", "accepts ", "requires ", "bad flag syntax"} {
		if strings.HasPrefix(msg, p) || strings.Contains(msg, " "+p) {
			return true
		}
	}
	return false
}

// rootCommand is driftd with every subcommand.
func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "driftd",
		Short: "Drift from the baked image, reported, never repaired",
		Long: `driftd records a signed baseline of an image at bake time and, on each host
made from it, reports every change since as drift: Prometheus metrics, JSON
events, a local API. A drifted host is marked for replacement, never repaired.

Exit codes, for every command: 0 clean (or done), 1 drift (or: the images
differ, the host is tainted), 2 could not verify or an error.`,
		Version:       version,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetVersionTemplate(fmt.Sprintf("driftd {{.Version}} (%s)\n", runtime.Version()))
	root.AddCommand(keygenCommand(), bakeCommand(), checkCommand(), diffCommand(), showCommand(), runCommand(),
		statusCommand(), taintCommand(), sealCommand(), configCommand(), versionCommand(), docsCommand())
	return root
}

// newCommand makes the command with the given path ("taint clear") from
// its entry in docs, taking exactly positionals arguments.
func newCommand(path string, positionals int) *cobra.Command {
	d, ok := docs[path]
	if !ok {
		panic("no docs for driftd " + path)
	}
	name := path[strings.LastIndexByte(path, ' ')+1:]
	return &cobra.Command{
		Use:                   name + d.args,
		Short:                 d.short,
		Long:                  d.long,
		Example:               d.example,
		Args:                  cobra.ExactArgs(positionals),
		DisableFlagsInUseLine: false,
	}
}
