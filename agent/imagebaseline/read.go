package imagebaseline

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"driftd/agent/config"
	"driftd/agent/containers"
	"driftd/baseline"
	"driftd/baseline/manifest"
)

// Reader reads the baselines baked in container images: the
// image's own config (at config.PackagedPath, layered as on a host), and
// the manifest it names, verified with one of the trusted keys, or with
// the key the image ships where none are given. The manifest's signed
// rules digest must be that of the image's rules: the rules are then as
// baked, whatever a later layer did to the config.
func Reader(trustedKeys []string) (containers.BakedReader, error) {
	var trusted []ed25519.PublicKey
	for _, p := range trustedKeys {
		k, err := manifest.LoadPublicKey(p)
		if err != nil {
			return nil, fmt.Errorf("containers.trusted_keys: %w", err)
		}
		trusted = append(trusted, k)
	}
	def, err := config.Load("")
	if err != nil {
		return nil, err
	}
	return func(image fs.FS) (*containers.Baked, error) {
		return readBaked(image, def, trusted)
	}, nil
}

// readBaked reads the baseline baked in image; def is the embedded
// default config, an image's config where it ships none.
func readBaked(image fs.FS, def *config.Loaded, trusted []ed25519.PublicKey) (*containers.Baked, error) {
	rel := func(p string) string { return strings.TrimPrefix(p, "/") }
	cfg := def
	if _, err := fs.Stat(image, rel(config.PackagedPath)); !errors.Is(err, fs.ErrNotExist) {
		if cfg, err = config.LoadFS(image, config.PackagedPath); err != nil {
			return nil, err
		}
	}
	data, err := fs.ReadFile(image, rel(cfg.Baseline.Path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // a config, but no baseline baked
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", cfg.Baseline.Path, err)
	}
	keys, from := trusted, "trusted_keys"
	if len(keys) == 0 {
		pem, err := fs.ReadFile(image, rel(cfg.Baseline.PublicKey))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", cfg.Baseline.PublicKey, err)
		}
		k, err := manifest.ParsePublicKey(pem, cfg.Baseline.PublicKey)
		if err != nil {
			return nil, err
		}
		keys, from = []ed25519.PublicKey{k}, "image"
	}
	var m *baseline.Manifest
	var keyID string
	for _, k := range keys {
		if m, err = manifest.Decode(data, k); err == nil {
			keyID = manifest.KeyID(k)
			break
		}
	}
	if m == nil {
		if from == "trusted_keys" {
			return nil, fmt.Errorf("%s is not signed by any of containers.trusted_keys: %w", cfg.Baseline.Path, err)
		}
		return nil, fmt.Errorf("%s: %w", cfg.Baseline.Path, err)
	}
	if m.Header.RulesDigest != cfg.Rules.Digest() {
		return nil, fmt.Errorf("the rules of %s are not those %s was baked with", strings.Join(cfg.Layers, " + "), cfg.Baseline.Path)
	}
	return &containers.Baked{Tables: cfg.Config.Config.Rules, BaselineID: m.ID(), KeyID: keyID, KeyFrom: from}, nil
}
