package textdiff

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/pmezard/go-difflib/difflib"

	"driftd/baseline"
)

// DefaultMaxBytes is the largest file whose content is kept.
const DefaultMaxBytes = 64 << 10

// Notes for a content change shown without a diff.
const (
	NoteSecret   = "content not shown (nodiff)"
	NoteNotKept  = "no baked content to compare (not text, or larger than the limit, at bake)"
	NoteNotText  = "content not shown: now not UTF-8 text"
	NoteTooLarge = "content not shown: now larger than the limit"
	NoteUnread   = "content not shown: could not be read"
)

// Keep reads the content of each regular entry that rules mark for diffs,
// that is UTF-8 text and at most maxBytes long, and that still has the
// digest the walk recorded (by alg); it returns them compressed, by path.
// It is the last step of a bake before the manifest is written: it looks
// only under the diff tables' literal prefixes (see Rules.DiffPrefixes),
// in a part per core, where matching every path of a million against the
// diff tables took a core a fifth of a second.
func Keep(root string, entries *baseline.Packed, alg baseline.Hash, rules *baseline.Rules, maxBytes int) map[string][]byte {
	var spans [][2]int
	n := 0
	for _, prefix := range rules.DiffPrefixes() {
		if lo, hi := entries.PrefixRange(prefix); lo < hi {
			spans, n = append(spans, [2]int{lo, hi}), n+hi-lo
		}
	}
	// The spans are cut into a part per core, each a list of ranges.
	parts := make([][][2]int, min(runtime.GOMAXPROCS(0), max(1, n/4096)))
	size := (n + len(parts) - 1) / len(parts)
	done := 0
	for _, sp := range spans {
		for lo := sp[0]; lo < sp[1]; {
			k := done / size
			hi := min(sp[1], lo+(k+1)*size-done)
			parts[k] = append(parts[k], [2]int{lo, hi})
			done += hi - lo
			lo = hi
		}
	}
	kept := make([]map[string][]byte, len(parts))
	var wg sync.WaitGroup
	for k, ranges := range parts {
		wg.Go(func() {
			kept[k] = map[string][]byte{}
			for _, r := range ranges {
				keepRange(kept[k], root, entries, r[0], r[1], alg, rules, maxBytes)
			}
		})
	}
	wg.Wait()
	out := kept[0]
	for _, part := range kept[1:] {
		maps.Copy(out, part)
	}
	return out
}

// keepRange is Keep for the entries lo to hi, into out.
func keepRange(out map[string][]byte, root string, entries *baseline.Packed, lo, hi int, alg baseline.Hash, rules *baseline.Rules, maxBytes int) {
	entries.Range(lo, hi, func(_ int, e *baseline.Entry) bool {
		if !e.HasDigest() || e.Size > int64(maxBytes) {
			return true
		}
		if keep, _ := rules.Diff(e.Path); !keep {
			return true
		}
		data, err := os.ReadFile(filepath.Join(root, e.Path))
		if err != nil || alg.Sum(data) != e.Digest || !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
			return true // changed since the walk, or not text: no diff for it
		}
		out[e.Path] = compress(data)
		return true
	})
}

func compress(data []byte) []byte {
	var b bytes.Buffer
	zw, _ := flate.NewWriter(&b, flate.BestCompression)
	zw.Write(data)
	zw.Close()
	return b.Bytes()
}

func decompress(z []byte, max int) ([]byte, error) {
	return io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(z)), int64(max)+1))
}

// Annotate sets Diff, or DiffNote, on each finding of a content change to
// a file the rules mark for diffs, against its baked content.
func Annotate(root string, findings []baseline.Finding, contents map[string][]byte, rules *baseline.Rules, maxBytes int) {
	for i := range findings {
		f := &findings[i]
		if f.Kind != baseline.Modified || f.Changes&baseline.AttrContent == 0 {
			continue
		}
		if keep, marked := rules.Diff(f.Path); !keep {
			if marked {
				f.DiffNote = NoteSecret
			}
			continue
		}
		z, ok := contents[f.Path]
		if !ok {
			f.DiffNote = NoteNotKept
			continue
		}
		f.Diff, f.DiffNote = diff(root, f.Path, z, maxBytes)
	}
}

func diff(root, path string, z []byte, maxBytes int) (string, string) {
	before, err := decompress(z, maxBytes)
	if err != nil {
		return "", NoteUnread
	}
	fh, err := os.Open(filepath.Join(root, path))
	if err != nil {
		return "", NoteUnread
	}
	defer fh.Close()
	after, err := io.ReadAll(io.LimitReader(fh, int64(maxBytes)+1))
	switch {
	case err != nil:
		return "", NoteUnread
	case len(after) > maxBytes:
		return "", NoteTooLarge
	case !utf8.Valid(after) || bytes.IndexByte(after, 0) >= 0:
		return "", NoteNotText
	}
	return Unified(path, before, after), ""
}

// lines splits text after each newline; a last line without one is kept.
func lines(text []byte) []string {
	out := strings.SplitAfter(string(text), "\n")
	if out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// Unified is the unified diff of a file's baked and current content, with
// three lines of context.
func Unified(path string, before, after []byte) string {
	d := difflib.UnifiedDiff{
		A: lines(before), B: lines(after),
		FromFile: "baked" + path, ToFile: "now" + path, Context: 3,
	}
	s, err := difflib.GetUnifiedDiffString(d)
	if err != nil {
		return fmt.Sprintf("(diff failed: %v)", err)
	}
	return s
}
