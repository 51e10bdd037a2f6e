package baseline

import (
	"fmt"
	"slices"
	"testing"
)

func TestTopMost(t *testing.T) {
	tests := []struct{ in, want []string }{
		{[]string{"/a/b", "/a", "/a/b/c", "/ab"}, []string{"/a", "/ab"}},
		{[]string{"/x", "/x", "/y/z"}, []string{"/x", "/y/z"}},
		{[]string{"/a/b/c", "/a/b"}, []string{"/a/b"}},
		{[]string{"/", "/etc", "/usr/bin"}, []string{"/"}},
		{nil, nil},
	}
	for _, tt := range tests {
		got := TopMost(slices.Clone(tt.in))
		slices.Sort(got)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("TopMost(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
