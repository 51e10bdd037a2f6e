package sha256x2

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
)

// TestGeneratedAssembly: the committed block2_amd64.s is what gen.go
// writes, so that an edit to either is not lost at the next go generate.
func TestGeneratedAssembly(t *testing.T) {
	out, err := exec.Command("go", "run", "gen.go").Output()
	if err != nil {
		t.Fatalf("go run gen.go: %v", err)
	}
	committed, err := os.ReadFile("block2_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, committed) {
		t.Fatal("block2_amd64.s differs from what gen.go writes: run go generate ./baseline/sha256x2")
	}
}
