package manifest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"os"
	"testing"

	"driftd/baseline"
	"driftd/baseline/walk"
)

// benchManifest decodes DRIFTD_BENCH_MANIFEST (unverified), for the encode
// and decode benchmarks; without it they run on a walk of /usr/share/doc.
func benchEntries(b *testing.B) []baseline.Entry {
	if p := os.Getenv("DRIFTD_BENCH_MANIFEST"); p != "" {
		m, err := Read(p, nil)
		if err != nil {
			b.Fatal(err)
		}
		return m.Entries.Unpack()
	}
	rules, err := baseline.CompileRules([]baseline.RuleConfig{{Paths: []string{"/**"}, Category: "c", Severity: "low"}})
	if err != nil {
		b.Fatal(err)
	}
	entries, err := (&walk.Walker{Root: "/usr/share/doc", Rules: rules, Workers: 2}).Walk(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return entries
}

func BenchmarkEncode(b *testing.B) {
	entries := benchEntries(b)
	packed := baseline.Pack(entries) // as the bake hands them over
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := Encode(&buf, &baseline.Manifest{Entries: packed}, testKey); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len())/float64(len(entries)), "bytes/entry")
}

// BenchmarkDecodeVerify is what check and run pay to load a baseline.
func BenchmarkDecodeVerify(b *testing.B) {
	entries := benchEntries(b)
	var buf bytes.Buffer
	if err := Encode(&buf, &baseline.Manifest{Entries: baseline.Pack(entries)}, testKey); err != nil {
		b.Fatal(err)
	}
	pub := testKey.Public().(ed25519.PublicKey)
	var m *baseline.Manifest
	for b.Loop() {
		var err error
		if m, err = Decode(buf.Bytes(), pub); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(entries)), "entries")
	b.ReportMetric(float64(m.Entries.Bytes()+4*len(m.Owners))/float64(len(entries)), "held-B/entry")
}
