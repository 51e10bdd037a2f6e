// Package manifest is the baseline's file format: the deterministic,
// compressed encoding of a baseline.Manifest, its ed25519 signature and
// the keys that make and check it, and reading and writing the file.
package manifest
