package manifest

import (
	"crypto/ed25519"
	"fmt"
	"os"

	"driftd/baseline"
	"driftd/baseline/atomicfile"
)

// Write encodes and signs m into path atomically: a reader sees
// the old file or the new one, never a part. It fills in m's header and
// digest as Encode does.
func Write(path string, m *baseline.Manifest, key ed25519.PrivateKey) error {
	parts, err := encodeSigned(m, key)
	if err != nil {
		return fmt.Errorf("encode manifest %s: %w", path, err)
	}
	if err := atomicfile.Write(path, 0o644, parts.writeTo); err != nil {
		return err
	}
	m.Verified = true
	return nil
}

// Read reads and decodes the manifest at path; see Decode for pub.
// Every error names the file.
func Read(path string, pub ed25519.PublicKey) (*baseline.Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	m, err := Decode(data, pub)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	return m, nil
}

// ReadHeader reads the header of the manifest at path, unverified, without
// decoding its entries: for what needs only the header's facts (the hash
// a seal digests by) from a baseline of a million entries.
func ReadHeader(path string) (baseline.Header, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return baseline.Header{}, fmt.Errorf("read manifest: %w", err)
	}
	env, err := splitEnvelope(data)
	if err != nil {
		return baseline.Header{}, fmt.Errorf("manifest %s: %w", path, err)
	}
	return env.header, nil
}
