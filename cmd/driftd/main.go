// Command driftd enforces immutability on hosts built from baked images.
// This package only parses flags and wires the other packages together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
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

type command struct {
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
	summary string
}

var commands = map[string]command{
	"keygen":  {runKeygen, "make a signing key pair"},
	"bake":    {runBake, "record a signed baseline of a root"},
	"check":   {runCheck, "compare a root with its baseline"},
	"diff":    {runDiff, "what changed between two baselines"},
	"show":    {runShow, "print a baseline"},
	"run":     {runRun, "the daemon: watch the host and report drift"},
	"status":  {runStatus, "the running daemon's view"},
	"taint":   {runTaint, "the replacement latch: status, or clear --reason"},
	"seal":    {runSeal, "seal the first-boot paths now"},
	"config":  {runConfig, "config default: the embedded default; config show: the layered config, with where each value came from"},
	"version": {runVersion, "print the version"},
}

var commandOrder = []string{"keygen", "bake", "check", "diff", "show", "run", "status", "taint", "seal", "config", "version"}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		return exitUnverified
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "driftd: unknown command %q (try driftd help)\n", args[0])
		return exitUnverified
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := cmd.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errDrift), errors.Is(err, errTainted):
		return exitDrift
	case errors.Is(err, errUnverified), errors.Is(err, flag.ErrHelp), errors.Is(err, errUsage):
		return exitUnverified
	case errors.Is(err, errNotRoot):
		fmt.Fprintf(stderr, "driftd %s %v\n", args[0], err)
		return exitUnverified
	default:
		fmt.Fprintf(stderr, "driftd %s: %v\n", args[0], err)
		return exitUnverified
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: driftd COMMAND [flags]")
	for _, name := range commandOrder {
		fmt.Fprintf(w, "  %-8s %s\n", name, commands[name].summary)
	}
}
