package manifest

import (
	"bytes"
	"compress/flate"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"driftd/baseline"
)

// TestDecodePayloadLength: metadata that inflates to more or fewer bytes
// than the header says, or a header that asks for more than deflate can
// give, is corrupt, and says which; a payload flipped in a signed
// manifest is a bad signature, whatever its decoding found first.
func TestDecodePayloadLength(t *testing.T) {
	good := encode(t, sampleEntries(), baseline.Header{DriftdVersion: "test"})
	env, err := splitEnvelope(good)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := io.ReadAll(flate.NewReader(bytes.NewReader(env.zdata)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		payload []byte
		size    int64
		want    string
	}{
		{"as baked", payload, int64(len(payload)), ""},
		{"longer", append(bytes.Clone(payload), 0), int64(len(payload)), "longer than"},
		{"shorter", payload[:len(payload)-1], int64(len(payload)), "header says"},
		{"a size deflate cannot reach", payload, 1 << 30, "payload of"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := env.header
			h.PayloadSize = tt.size
			_, err := Decode(unsignedManifest(t, h, deflate(t, tt.payload), env.digests, env.contents), nil)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %v saying %q", err, ErrCorrupt, tt.want)
			}
		})
	}

	// The middle byte of the compressed metadata, flipped.
	at := bytes.Index(good, env.zdata) + len(env.zdata)/2
	bad := bytes.Clone(good)
	bad[at] ^= 0x40
	if _, err := Decode(bad, testKey.Public().(ed25519.PublicKey)); !errors.Is(err, ErrSignature) {
		t.Errorf("metadata flipped in a signed manifest: %v, want %v", err, ErrSignature)
	}
}

// TestDecodeAcrossSteps: a payload many inflate steps long decodes to what
// was encoded, fields cut at every step boundary.
func TestDecodeAcrossSteps(t *testing.T) {
	var entries []baseline.Entry
	for i := range 3 * inflateStep / 20 {
		entries = append(entries, baseline.Entry{Path: "/d/" + strings.Repeat("x", i%50) + string(rune('a'+i%26)) + strings.Repeat("y", i%7) + "-" + strconv.Itoa(i),
			Type: baseline.TypeSymlink, Target: strings.Repeat("t", i%300), Mode: 0o777, Nlink: 1, Mtime: int64(i)})
	}
	baseline.SortEntries(entries)
	m := encodeDecode(t, entries)
	got := m.Entries.Unpack()
	if len(got) != len(entries) {
		t.Fatalf("decoded %d entries, want %d", len(got), len(entries))
	}
	for i, e := range got {
		if e.Path != entries[i].Path || e.Target != entries[i].Target || e.Mtime != entries[i].Mtime {
			t.Fatalf("entry %d: %+v, want %+v", i, e, entries[i])
		}
	}
	if env, _ := splitEnvelope(encode(t, entries, baseline.Header{})); env.header.PayloadSize < 2*inflateStep {
		t.Fatalf("payload %d bytes: the test wants several steps", env.header.PayloadSize)
	}
}

func deflate(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := flate.NewWriter(&buf, flate.BestSpeed)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// unsignedManifest lays out a manifest from its parts, with no signature.
func unsignedManifest(t *testing.T, h baseline.Header, zdata, digests, contents []byte) []byte {
	hj, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	out := bytes.Clone(magic)
	out = binary.BigEndian.AppendUint16(out, uint16(h.Format))
	out = binary.BigEndian.AppendUint32(out, uint32(len(hj)))
	out = append(out, hj...)
	for _, sec := range [][]byte{zdata, digests, contents} {
		out = binary.BigEndian.AppendUint64(out, uint64(len(sec)))
		out = append(out, sec...)
	}
	return out
}
