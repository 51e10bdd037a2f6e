package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBakeWithBLAKE3: a baseline baked with --hash blake3 says so, checks
// clean on the same tree and sees a content change that keeps the size and
// mtime; what driftd cannot compare, it refuses in one line.
func TestBakeWithBLAKE3(t *testing.T) {
	f := newFixture(t)
	shaManifest := filepath.Join(f.dir, "sha256.manifest")
	if r := f.bake(t, shaManifest); r.code != exitOK {
		t.Fatal(r)
	}
	if r := f.bake(t, f.manifest, "--hash", "blake3"); r.code != exitOK {
		t.Fatal(r)
	}
	r := driftd(t, nil, "show", f.manifest)
	if r.code != exitOK || !strings.Contains(r.stdout, ", blake3, created") || !strings.Contains(r.stdout, "blake3:") || strings.Contains(r.stdout, "sha256:") {
		t.Fatalf("show of a BLAKE3 baseline:\n%v", r)
	}
	if r := f.check(t); r.code != exitOK || !strings.Contains(r.stdout, "clean") {
		t.Fatalf("an untouched root against its BLAKE3 baseline: %v", r)
	}

	// Same size, mtime put back: only the digest can tell.
	p := filepath.Join(f.root, "etc/hostname")
	fi, _ := os.Stat(p)
	os.WriteFile(p, []byte("web-2\n"), 0o644)
	os.Chtimes(p, fi.ModTime(), fi.ModTime())
	r = f.check(t, "--format", "json")
	got := findingsOf(t, r)["/etc/hostname"]
	if r.code != exitDrift || len(got.Changes) != 1 || got.Changes[0] != "content" {
		t.Fatalf("a content change against a BLAKE3 baseline: %+v\n%v", got, r)
	}
	if got.Before.BLAKE3 == "" || got.Before.SHA256 != "" || got.Before.BLAKE3 == got.After.BLAKE3 {
		t.Errorf("the finding's digests are not BLAKE3's, or equal: before %+v after %+v", got.Before, got.After)
	}

	for _, tt := range []struct {
		name string
		r    result
		want string
	}{
		{"unknown hash", f.bake(t, filepath.Join(f.dir, "x.manifest"), "--hash", "md5"), `--hash "md5": want sha256 or blake3`},
		{"diff across hashes", driftd(t, nil, "diff", shaManifest, f.manifest, "--config", f.config), "sha256.manifest digests by sha256 and " + f.manifest + " by blake3"},
	} {
		if tt.r.code != exitUnverified || !strings.Contains(tt.r.stderr, tt.want) || strings.Count(strings.TrimSpace(tt.r.stderr), "\n") != 0 {
			t.Errorf("%s: want exit 2 and one line with %q\n%v", tt.name, tt.want, tt.r)
		}
	}
}

// TestSealOfABLAKE3Baseline: the first check seals a host of a BLAKE3
// image, and the next check of the untouched host is clean, the sealed
// first-boot paths compared by the same hash. A seal by another hash than
// the baseline's (the baseline was swapped after the seal) is tampering.
func TestSealOfABLAKE3Baseline(t *testing.T) {
	f := firstBootFixture(t, nil)
	shaManifest := f.manifest
	f.manifest = filepath.Join(f.dir, "blake3.manifest")
	if r := driftd(t, nil, "bake", "--root", f.root, "--key", f.key, "--out", f.manifest, "--hash", "blake3"); r.code != exitOK {
		t.Fatal(r)
	}
	check := func(manifest, state string) result {
		return driftd(t, nil, "check", "--root", f.root, "--baseline", manifest, "--pubkey", f.pub, "--state-dir", state, "--format", "json")
	}
	state := t.TempDir()
	writeTree(t, f.root, map[string]string{"etc/hostname": "web-7\n"}) // what first boot does
	if r := check(f.manifest, state); r.code != exitOK || !strings.Contains(r.stdout, `"sealed_now"`) {
		t.Fatalf("the first check seals: %v", r)
	}
	time.Sleep(10 * time.Millisecond)
	if r := check(f.manifest, state); r.code != exitOK {
		t.Fatalf("the sealed, untouched host: %v", r)
	}

	shaState := t.TempDir()
	if r := check(shaManifest, shaState); r.code != exitOK {
		t.Fatalf("the first check against the SHA-256 baseline seals: %v", r)
	}
	r := check(f.manifest, shaState)
	seal := filepath.Join(shaState, "seal.manifest")
	if got := findingsOf(t, r)[seal]; r.code != exitDrift || got.Category != "driftd" || !strings.Contains(r.stdout, "seal digests by sha256, the baseline by blake3") {
		t.Errorf("a SHA-256 seal under a BLAKE3 baseline: want a tamper finding on the seal: %+v\n%v", got, r)
	}
}
