package agent

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"driftd/agent/config"
	"driftd/baseline"
	"driftd/baseline/manifest"
	"driftd/baseline/walk"
)

// testRoot bakes a small root and returns the daemon options to run on it.
func testRoot(t *testing.T) Options {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	for _, p := range []string{"etc/ssh/sshd_config", "usr/bin/tool", "var/lib/x/y"} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(root, p), []byte(p), 0o644)
	}
	keyPath, pubPath, err := manifest.GenerateKey(filepath.Join(dir, "k"))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := manifest.LoadPrivateKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := (&walk.Walker{Root: root, Rules: cfg.Rules, Workers: 2}).Walk(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	manifestPath := filepath.Join(dir, "baseline.manifest")
	if err := manifest.Write(manifestPath, &baseline.Manifest{Entries: baseline.Pack(entries)}, priv); err != nil {
		t.Fatal(err)
	}
	return Options{
		Root: root, BaselinePath: manifestPath, PubkeyPath: pubPath, StateDir: filepath.Join(dir, "state"),
		ListenAddress: "127.0.0.1:0", Events: io.Discard, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func openFDs(t *testing.T) int {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// TestNoLeaks starts and stops the daemon, with a scrape and a re-check in
// between: afterwards no goroutine and no file descriptor is left behind.
func TestNoLeaks(t *testing.T) {
	opts := testRoot(t)
	// One run first, so that what the runtime and libraries set up once
	// (the signal and netpoll goroutines, the epoll fd) is not counted.
	runOnce(t, opts)
	goroutines, fds := runtime.NumGoroutine(), openFDs(t)
	for range 3 {
		runOnce(t, opts)
	}
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > goroutines || openFDs(t) > fds {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("after stop: %d goroutines (was %d), %d fds (was %d)\n%s",
				runtime.NumGoroutine(), goroutines, openFDs(t), fds, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func runOnce(t *testing.T, opts Options) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	opts.Ready = func(a net.Addr) { ready <- a }
	done := make(chan error, 1)
	go func() { done <- Run(ctx, opts) }()
	var addr net.Addr
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + addr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	os.WriteFile(filepath.Join(opts.Root, "etc/ssh/sshd_config"), []byte("changed"), 0o644)
	time.Sleep(150 * time.Millisecond) // a debounced re-check
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of cancel")
	}
}
