package imagebaseline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"driftd/agent/config"
	"driftd/baseline"
	"driftd/baseline/manifest"
)

// TestReader: the baseline baked in an image is read with the
// image's own config, verified with the image's key or the trusted ones,
// and refused when its rules are not those it was baked with.
func TestReader(t *testing.T) {
	dir := t.TempDir()
	keyA, pubA, err := manifest.GenerateKey(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	_, pubB, err := manifest.GenerateKey(filepath.Join(dir, "b"))
	if err != nil {
		t.Fatal(err)
	}
	image := filepath.Join(dir, "image")
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(image, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	read := func(trusted ...string) (string, error) {
		t.Helper()
		r, err := Reader(trusted)
		if err != nil {
			t.Fatal(err)
		}
		b, err := r(os.DirFS(image))
		if b == nil {
			return "none", err
		}
		return b.KeyFrom + " " + b.BaselineID + " " + b.Tables[len(b.Tables)-1].Paths[0], err
	}
	if got, err := read(); got != "none" || err != nil {
		t.Fatalf("an image without a baseline: %s, %v", got, err)
	}

	write("etc/driftd/driftd.toml", "[[rule]]\npaths = [\"/srv/app/**\"]\ncategory = \"app\"\nseverity = \"high\"\n")
	if got, err := read(); got != "none" || err != nil {
		t.Fatalf("an image with a config and no baseline: %s, %v", got, err)
	}
	cfg, err := config.LoadFS(os.DirFS(image), config.PackagedPath)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := manifest.LoadPrivateKey(keyA)
	if err != nil {
		t.Fatal(err)
	}
	m := &baseline.Manifest{Header: baseline.Header{RulesDigest: cfg.Rules.Digest()}, Entries: baseline.Pack(nil)}
	if err := manifest.Write(filepath.Join(image, "etc/driftd/baseline.manifest"), m, priv); err != nil {
		t.Fatal(err)
	}
	pem, _ := os.ReadFile(pubA)
	write("etc/driftd/baseline.pub", string(pem))

	got, err := read()
	if err != nil || !strings.HasPrefix(got, "image ") || !strings.HasSuffix(got, " /srv/app/**") {
		t.Errorf("verified with the image's key: %s, %v", got, err)
	}
	if got, err := read(pubA); err != nil || !strings.HasPrefix(got, "trusted_keys ") {
		t.Errorf("verified with a trusted key: %s, %v", got, err)
	}
	if _, err := read(pubB); err == nil || !strings.Contains(err.Error(), "not signed by any of containers.trusted_keys") {
		t.Errorf("signed by an untrusted key: %v", err)
	}
	// A later layer adds a rule: the rules are no longer those baked.
	write("etc/driftd/driftd.d/zz.toml", "[[rule]]\npaths = [\"/etc/**\"]\nignore = true\n")
	if _, err := read(); err == nil || !strings.Contains(err.Error(), "are not those") {
		t.Errorf("rules changed after the bake: %v", err)
	}
	os.Remove(filepath.Join(image, "etc/driftd/driftd.d/zz.toml"))
	write("etc/driftd/baseline.manifest", "not a manifest")
	if _, err := read(); err == nil {
		t.Error("a corrupt manifest was taken")
	}
}
