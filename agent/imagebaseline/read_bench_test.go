package imagebaseline

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"driftd/agent/config"
	"driftd/baseline"
	"driftd/baseline/manifest"
)

// BenchmarkReader: what a container's discovery pays to read the baseline
// baked in its image, for an image of 10,000 entries (a Debian base image
// has about 9,000), against decoding and verifying its manifest alone,
// the floor, in the same run.
func BenchmarkReader(b *testing.B) {
	dir := b.TempDir()
	keyPath, _, err := manifest.GenerateKey(filepath.Join(dir, "k"))
	if err != nil {
		b.Fatal(err)
	}
	priv, err := manifest.LoadPrivateKey(keyPath)
	if err != nil {
		b.Fatal(err)
	}
	image := filepath.Join(dir, "image")
	os.MkdirAll(filepath.Join(image, "etc/driftd"), 0o755)
	os.WriteFile(filepath.Join(image, "etc/driftd/driftd.toml"), []byte("[[rule]]\npaths = [\"/srv/app/**\"]\ncategory = \"app\"\nseverity = \"high\"\n"), 0o644)
	os.WriteFile(filepath.Join(image, "etc/driftd/baseline.pub"), mustRead(b, filepath.Join(dir, "k.pub")), 0o644)
	cfg, err := config.LoadFS(os.DirFS(image), config.PackagedPath)
	if err != nil {
		b.Fatal(err)
	}
	entries := make([]baseline.Entry, 10000)
	for i := range entries {
		entries[i] = baseline.Entry{Path: fmt.Sprintf("/usr/lib/pkg%03d/file%05d.so", i/100, i), Type: baseline.TypeRegular, Mode: 0o644, Size: int64(i)}
		entries[i].Digest[0], entries[i].Digest[1] = byte(i), byte(i>>8)
	}
	m := &baseline.Manifest{Header: baseline.Header{RulesDigest: cfg.Rules.Digest()}, Entries: baseline.Pack(entries)}
	manifestPath := filepath.Join(image, "etc/driftd/baseline.manifest")
	if err := manifest.Write(manifestPath, m, priv); err != nil {
		b.Fatal(err)
	}
	read, err := Reader(nil)
	if err != nil {
		b.Fatal(err)
	}
	pub, err := manifest.LoadPublicKey(filepath.Join(dir, "k.pub"))
	if err != nil {
		b.Fatal(err)
	}
	fsys := os.DirFS(image)
	var floor time.Duration
	const floorRuns = 20
	start := time.Now()
	for range floorRuns {
		if _, err := manifest.Read(manifestPath, pub); err != nil {
			b.Fatal(err)
		}
	}
	floor = time.Since(start) / floorRuns
	b.ResetTimer()
	for b.Loop() {
		if baked, err := read(fsys); err != nil || baked == nil {
			b.Fatalf("read: %v %v", baked, err)
		}
	}
	per := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(per)/float64(floor), "x-manifest-read")
	b.Logf("reader %s per image, manifest read+verify alone %s (%d bytes)", per.Round(time.Microsecond), floor.Round(time.Microsecond), fileSize(b, manifestPath))
}

func mustRead(b *testing.B, p string) []byte {
	data, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func fileSize(b *testing.B, p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}
