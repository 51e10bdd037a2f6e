package baseline

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"testing"
)

// benchManifest decodes DRIFTD_BENCH_MANIFEST (unverified), for the encode
// and decode benchmarks; without it they run on a walk of /usr/share/doc.
func benchEntries(b *testing.B) []Entry {
	if p := os.Getenv("DRIFTD_BENCH_MANIFEST"); p != "" {
		m, err := ReadManifest(p, nil)
		if err != nil {
			b.Fatal(err)
		}
		return m.Entries
	}
	return walkTree(b, "/usr/share/doc", mustRules(b, []RuleConfig{{Paths: []string{"/**"}, Category: "c", Severity: "low"}}))
}

func BenchmarkEncode(b *testing.B) {
	entries := benchEntries(b)
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := Encode(&buf, &Manifest{Entries: entries}, testKey); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len())/float64(len(entries)), "bytes/entry")
}

// BenchmarkDecodeVerify is what check and run pay to load a baseline.
func BenchmarkDecodeVerify(b *testing.B) {
	entries := benchEntries(b)
	var buf bytes.Buffer
	if err := Encode(&buf, &Manifest{Entries: entries}, testKey); err != nil {
		b.Fatal(err)
	}
	pub := testKey.Public().(ed25519.PublicKey)
	for b.Loop() {
		if _, err := Decode(buf.Bytes(), pub); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(entries)), "entries")
}
