// Package sha256x2 computes SHA-256 over two messages at once. A
// SHA256RNDS2 waits on the one before it, so a single message leaves the
// SHA unit idle about a quarter of the time; two independent messages,
// their rounds alternated, fill it. On the CPUs driftd was measured on,
// that hashes two large files about a third faster than hashing them one
// after the other with crypto/sha256.
//
// The package only runs whole 64-byte blocks. A Digest is carried on by
// crypto/sha256 itself (Resume), which pads and finishes it, so that the
// digest that is finally written down is always crypto/sha256's.
package sha256x2
