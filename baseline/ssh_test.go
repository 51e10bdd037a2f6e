package baseline

import (
	"slices"
	"testing"
)

func TestMergeSSHPaths(t *testing.T) {
	got := MergeSSHPaths([]string{"/home/old/.ssh/**", "/root/.ssh/**"}, []string{"/root/.ssh/**", "/root/.ssh/authorized_keys", "/srv/new/.ssh/**"})
	want := []string{"/home/old/.ssh/**", "/root/.ssh/**", "/srv/new/.ssh/**"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
