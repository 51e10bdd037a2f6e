package manifest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unsafe"

	"driftd/baseline"
)

// FormatVersion is the manifest format this driftd writes. Format 2 added
// the package inventory and the owner of each path; format 3 the baked
// contents of small text files (format 2 is still read: it has none);
// format 4 starts the entries' encoding afresh every baseline.PackBlock
// entries, as the daemon holds them, so that a bake writes its packed
// entries as they are (formats 2 and 3 are read as one run).
const FormatVersion = 4

// oldestFormat is the oldest format this driftd reads.
const oldestFormat = 2

// magic opens every manifest. Like PNG's, its first byte is not ASCII and
// it ends in a newline, so text-mode mangling is caught at once.
var magic = []byte("\x89DRIFTD\n")

// Errors a manifest can fail with; each is wrapped with the file and detail.
var (
	ErrNotManifest = errors.New("manifest: not a driftd manifest")
	ErrTruncated   = errors.New("manifest: manifest is truncated")
	ErrCorrupt     = errors.New("manifest: manifest is corrupt")
	ErrNewerFormat = errors.New("manifest: manifest format is newer than this driftd reads")
	ErrOlderFormat = errors.New("manifest: manifest format is older than this driftd reads")
	ErrUnsigned    = errors.New("manifest: manifest is not signed")
	ErrSignature   = errors.New("manifest: manifest signature does not verify")
	ErrWrongKey    = errors.New("manifest: manifest is signed by another key")
)

// Encode writes m as a signed manifest: magic, format version, header, the
// metadata of entries and packages (compressed), the entries' digests (raw:
// random bytes do not compress, and only slow the compressor down), then
// the ed25519 signature of the SHA-256 of all that. The same header,
// entries and packages always give the same bytes. Encode fills in the
// header's computed fields and m.Digest.
func Encode(w io.Writer, m *baseline.Manifest, key ed25519.PrivateKey) error {
	parts, err := encodeSigned(m, key)
	if err != nil {
		return err
	}
	return parts.writeTo(w)
}

// signedParts is an encoded manifest as the parts it is made of, in
// order: a manifest of a million entries is tens of megabytes, not to be
// copied into one buffer on the way to a file.
type signedParts [][]byte

func (ps signedParts) writeTo(w io.Writer) error {
	for _, p := range ps {
		if _, err := w.Write(p); err != nil {
			return err
		}
	}
	return nil
}

// encodeSigned is Encode, as parts.
func encodeSigned(m *baseline.Manifest, key ed25519.PrivateKey) (signedParts, error) {
	h := &m.Header
	alg, err := baseline.ParseHash(h.Hash)
	if err != nil {
		return nil, fmt.Errorf("encode header: %w", err)
	}
	// Since format 4 the entries' records are stored as the packed
	// entries hold them, and a bake no longer encodes each one again.
	records, digests := m.Entries.Records()
	pkgs := encodePackages(nil, m.Packages, m.Owners)
	zdata := deflateRuns(records, pkgs)
	h.Format = FormatVersion
	h.Hash = string(alg)
	h.Compression = "deflate"
	h.PayloadSize = int64(len(records) + len(pkgs))
	h.Counts = m.Entries.Counts()
	h.KeyID = KeyID(key.Public().(ed25519.PublicKey))
	if h.PackageManagers == nil {
		h.PackageManagers = []baseline.ManagerState{}
	}
	hj, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encode header: %w", err)
	}

	contents := encodeContents(m)
	length := func(n int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }
	head := append(slices.Clip(magic), 0, 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint16(head[len(magic):], uint16(FormatVersion))
	binary.BigEndian.PutUint32(head[len(magic)+2:], uint32(len(hj)))
	parts := signedParts{append(head, hj...), length(len(zdata)), zdata, length(len(digests)), digests, length(len(contents)), contents}
	sum := sha256.New()
	for _, p := range parts {
		sum.Write(p)
	}
	sum.Sum(m.Digest[:0])
	return append(parts, ed25519.Sign(key, m.Digest[:])), nil
}

// envelope is a manifest split into its parts, before the payload is read.
type envelope struct {
	header   baseline.Header
	zdata    []byte // compressed metadata
	digests  []byte
	contents []byte // format 3 on
	signed   []byte // what the signature signs: all but itself
	sig      []byte // nil when unsigned
	version  uint16
}

func splitEnvelope(data []byte) (*envelope, error) {
	if len(data) < len(magic) || !bytes.Equal(data[:len(magic)], magic) {
		if len(data) < len(magic) && bytes.HasPrefix(magic, data) {
			return nil, fmt.Errorf("%w: %d bytes", ErrTruncated, len(data))
		}
		return nil, ErrNotManifest
	}
	r := data[len(magic):]
	if len(r) < 2 {
		return nil, fmt.Errorf("%w: no format version", ErrTruncated)
	}
	env := &envelope{version: binary.BigEndian.Uint16(r)}
	if env.version > FormatVersion {
		return nil, fmt.Errorf("%w: format %d, this driftd reads up to %d; upgrade driftd", ErrNewerFormat, env.version, FormatVersion)
	}
	if env.version == 0 {
		return nil, fmt.Errorf("%w: format version 0", ErrCorrupt)
	}
	if env.version < oldestFormat {
		return nil, fmt.Errorf("%w: format %d has no package inventory; bake the image again with this driftd", ErrOlderFormat, env.version)
	}
	r = r[2:]
	if len(r) < 4 {
		return nil, fmt.Errorf("%w: no header", ErrTruncated)
	}
	hlen := binary.BigEndian.Uint32(r)
	r = r[4:]
	if uint64(len(r)) < uint64(hlen) {
		return nil, fmt.Errorf("%w: header wants %d bytes, %d left", ErrTruncated, hlen, len(r))
	}
	dec := json.NewDecoder(bytes.NewReader(r[:hlen]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env.header); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrCorrupt, err)
	}
	if _, err := baseline.ParseHash(env.header.Hash); err != nil {
		return nil, fmt.Errorf("%w: digests by %q, which this driftd does not know; upgrade driftd", ErrNewerFormat, env.header.Hash)
	}
	if env.header.Format != int(env.version) {
		return nil, fmt.Errorf("%w: header says format %d, envelope %d", ErrCorrupt, env.header.Format, env.version)
	}
	r = r[hlen:]
	var err error
	if env.zdata, r, err = section(r, "metadata"); err != nil {
		return nil, err
	}
	if env.digests, r, err = section(r, "digests"); err != nil {
		return nil, err
	}
	if env.version >= 3 {
		if env.contents, r, err = section(r, "contents"); err != nil {
			return nil, err
		}
	}
	signed := len(data) - len(r)
	env.signed = data[:signed]
	switch {
	case len(r) == 0:
		// unsigned: sig stays nil
	case len(r) < ed25519.SignatureSize:
		return nil, fmt.Errorf("%w: signature has %d of %d bytes", ErrTruncated, len(r), ed25519.SignatureSize)
	case len(r) > ed25519.SignatureSize:
		return nil, fmt.Errorf("%w: %d bytes after the signature", ErrCorrupt, len(r)-ed25519.SignatureSize)
	default:
		env.sig = r
	}
	return env, nil
}

// section splits a section (a 64-bit length, then that many bytes) off r.
func section(r []byte, name string) (sec, rest []byte, err error) {
	if len(r) < 8 {
		return nil, nil, fmt.Errorf("%w: no %s", ErrTruncated, name)
	}
	n := binary.BigEndian.Uint64(r)
	r = r[8:]
	if uint64(len(r)) < n {
		return nil, nil, fmt.Errorf("%w: %s want %d bytes, %d left", ErrTruncated, name, n, len(r))
	}
	return r[:n], r[n:], nil
}

// Decode reads a manifest. With a public key, the signature is checked
// before anything else of the payload is read, and a manifest that does not
// verify is refused. With a nil key the manifest is read unverified (for
// `show`, `diff`, and the loudly named lab flag) and Verified stays false.
func Decode(data []byte, pub ed25519.PublicKey) (*baseline.Manifest, error) {
	env, err := splitEnvelope(data)
	if err != nil {
		return nil, err
	}
	m := &baseline.Manifest{Header: env.header}
	if pub != nil {
		if env.sig == nil {
			return nil, ErrUnsigned
		}
		if got, want := env.header.KeyID, KeyID(pub); got != want {
			return nil, fmt.Errorf("%w: manifest names key %s, the public key is %s", ErrWrongKey, got, want)
		}
	}
	if env.header.Compression != "deflate" {
		return nil, fmt.Errorf("%w: unknown compression %q", ErrCorrupt, env.header.Compression)
	}
	// The digest and the signature are checked, and the metadata
	// inflated, while the entries are decoded: nothing decoded is
	// returned unless the signature holds.
	verified := make(chan bool, 1)
	go func() {
		m.Digest = sha256.Sum256(env.signed)
		verified <- pub == nil || ed25519.Verify(pub, m.Digest[:], env.sig)
	}()
	f, err := inflate(env.zdata, env.header.PayloadSize)
	if err == nil {
		r := &reader{src: f, digests: env.digests}
		err = decodePayload(r, m)
		if inflateErr := f.close(); inflateErr != nil {
			err = inflateErr
		}
		if err != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
	}
	if !<-verified {
		return nil, ErrSignature
	}
	if err != nil {
		return nil, err
	}
	m.Verified = pub != nil
	if m.Entries.Counts() != env.header.Counts {
		return nil, fmt.Errorf("%w: counts in header do not match the entries", ErrCorrupt)
	}
	if m.Contents, err = decodeContents(env.contents, m.Entries); err != nil {
		return nil, fmt.Errorf("%w: contents: %v", ErrCorrupt, err)
	}
	return m, nil
}

// decodePayload decodes the entries and packages into m.
func decodePayload(r *reader, m *baseline.Manifest) error {
	block := 0 // formats 2 and 3: one run
	if m.Header.Format >= 4 {
		block = baseline.PackBlock
	}
	entries, err := r.entries(m.Header.Counts.Entries, block)
	if err != nil {
		return err
	}
	if m.Packages, m.Owners, err = r.packages(entries.Len()); err != nil {
		return err
	}
	if r.left() != 0 || len(r.digests) != 0 {
		return fmt.Errorf("%d metadata and %d digest bytes left over", r.left(), len(r.digests))
	}
	m.Entries = entries
	return nil
}

// The entry encoding, baseline.Packed's records. Entries are sorted, so
// each path is stored as the length it shares with the previous one plus
// the rest; times and inodes are stored as deltas, which makes an image's
// entries (installed together, in sequence) small before compression and
// smaller after. Since format 4, every baseline.PackBlock-th entry starts
// afresh: it shares nothing and its deltas are from zero. Content and
// xattr digests go to their own section, in entry order.
const (
	flagErr    = 1 << 0
	flagXattrs = 1 << 1
)

// entries decodes count entries straight into their packed form: the
// daemon never holds a million Entry values, even while it loads them.
// Every block-th entry starts afresh; none does for a block of 0.
func (r *reader) entries(count, block int) (*baseline.Packed, error) {
	// Each entry takes at least 12 bytes, which bounds what a forged count
	// can make us allocate.
	if count < 0 || count > r.left()/12+1 {
		return nil, fmt.Errorf("entry count %d does not fit %d bytes", count, r.left())
	}
	var pk baseline.Packer
	pk.Grow(count)
	var e, prev baseline.Entry
	var path []byte // the previous path, then this one
	for i := range count {
		if block > 0 && i%block == 0 {
			path, prev = path[:0], baseline.Entry{}
		}
		at := r.pos()
		shared := r.uvarint()
		if shared > uint64(len(path)) {
			r.fail("entry %d: shares %d bytes of a %d-byte path", i, shared, len(path))
		}
		if r.err != nil {
			break
		}
		path = append(path[:shared], r.bytes(r.uvarint())...)
		// The packer copies the path: a view of the buffer will do.
		e = baseline.Entry{Path: unsafe.String(unsafe.SliceData(path), len(path))}
		e.Type = baseline.Type(r.byte())
		flags := r.byte()
		e.Mode = r.u32()
		e.UID = r.u32()
		e.GID = r.u32()
		e.Size = int64(r.uvarint())
		e.Mtime = prev.Mtime + r.varint()
		e.Ctime = e.Mtime + r.varint()
		e.Inode = prev.Inode + uint64(r.varint())
		e.Nlink = r.uvarint()
		switch e.Type {
		case baseline.TypeRegular:
			if flags&flagErr == 0 {
				r.digest(&e.Digest)
			}
		case baseline.TypeSymlink:
			e.Target = r.str()
		case baseline.TypeCharDevice, baseline.TypeBlockDevice:
			e.Rdev = r.uvarint()
		case baseline.TypeDir, baseline.TypeFIFO, baseline.TypeSocket:
		case 0:
			if flags&flagErr == 0 {
				r.fail("entry %d: no type and no error", i)
			}
		default:
			r.fail("entry %d: unknown type %d", i, e.Type)
		}
		if flags&flagXattrs != 0 {
			n := r.uvarint()
			if n == 0 || n > uint64(len(r.digests))/32 {
				r.fail("entry %d: %d xattrs", i, n)
			}
			for j := uint64(0); j < n && r.err == nil; j++ {
				var x baseline.Xattr
				x.Name = r.str()
				r.digest(&x.Digest)
				e.Xattrs = append(e.Xattrs, x)
			}
		}
		if flags&flagErr != 0 {
			if e.Err = r.str(); e.Err == "" && r.err == nil {
				r.fail("entry %d: empty error", i)
			}
		}
		if flags&^(flagErr|flagXattrs) != 0 {
			r.fail("entry %d: unknown flags %#x", i, flags)
		}
		if e.Mode&^0o7777 != 0 {
			r.fail("entry %d: mode %#o", i, e.Mode)
		}
		if !strings.HasPrefix(e.Path, "/") || (i > 0 && shared == uint64(len(path))) {
			r.fail("entry %d: path %q out of order", i, e.Path)
		}
		if r.err != nil {
			break
		}
		// A record read where the packer starts it afresh is as the
		// packer writes it: it is taken as it is.
		var err error
		if block == baseline.PackBlock {
			err = pk.AddRecord(&e, r.src.buf[at:r.pos()])
		} else {
			err = pk.Add(&e)
		}
		if err != nil {
			r.fail("entry %d: path %q out of order", i, e.Path)
			break
		}
		prev.Mtime, prev.Inode = e.Mtime, e.Inode
	}
	if r.err != nil {
		return nil, r.err
	}
	return pk.Packed(), nil
}

// packages decodes the inventory and the owners of the entries.
func (r *reader) packages(entries int) ([]baseline.Package, []int32, error) {
	n := r.uvarint()
	// A package takes at least 4 bytes.
	if n > uint64(r.left())/4 {
		r.fail("package count %d does not fit %d bytes", n, r.left())
	}
	if r.err != nil {
		return nil, nil, r.err
	}
	pkgs := make([]baseline.Package, n)
	for i := range pkgs {
		pkgs[i] = baseline.Package{Manager: r.str(), Name: r.str(), Version: r.str(), Arch: r.str()}
		if r.err == nil && (pkgs[i].Name == "" || i > 0 && pkgs[i-1].Key() >= pkgs[i].Key()) {
			r.fail("package %d (%s) out of order", i, pkgs[i].Name)
		}
	}
	owned := r.uvarint()
	if owned > uint64(entries) {
		r.fail("%d owned entries of %d", owned, entries)
	}
	var owners []int32
	if owned > 0 && r.err == nil {
		owners = make([]int32, entries)
		for i := range owners {
			owners[i] = -1
		}
	}
	at := 0
	for k := uint64(0); k < owned && r.err == nil; k++ {
		delta, p := r.uvarint(), r.uvarint()
		if (k > 0 && delta == 0) || delta >= uint64(entries-at) || p >= n {
			r.fail("owner %d: entry +%d, package %d", k, delta, p)
			break
		}
		at += int(delta)
		owners[at] = int32(p)
	}
	if r.err != nil {
		return nil, nil, r.err
	}
	return pkgs, owners, nil
}
