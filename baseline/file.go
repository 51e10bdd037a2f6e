package baseline

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteManifest encodes and signs m into path atomically: a reader sees
// the old file or the new one, never a part. It fills in m's header and
// digest as Encode does.
func WriteManifest(path string, m *Manifest, key ed25519.PrivateKey) error {
	var buf bytes.Buffer
	if err := Encode(&buf, m, key); err != nil {
		return fmt.Errorf("encode manifest %s: %w", path, err)
	}
	if err := WriteFileAtomic(path, buf.Bytes(), 0o644); err != nil {
		return err
	}
	m.Verified = true
	return nil
}

// ReadManifest reads and decodes the manifest at path; see Decode for pub.
// Every error names the file.
func ReadManifest(path string, pub ed25519.PublicKey) (*Manifest, error) {
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

// WriteFileAtomic writes data to a temporary file beside path, syncs it,
// renames it over path and syncs the directory.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return WriteAtomic(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteAtomic is WriteFileAtomic for content that write streams, so that
// large content need not be held in memory whole.
func WriteAtomic(path string, perm os.FileMode, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	bw := bufio.NewWriter(f)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	// The rename is durable only once the directory is synced: without it
	// a power cut could bring back the old file, or none.
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		err = dir.Sync()
		dir.Close()
		if err != nil {
			return fmt.Errorf("write %s: sync directory: %w", path, err)
		}
	}
	return nil
}
