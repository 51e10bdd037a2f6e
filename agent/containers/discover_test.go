package containers

import (
	"reflect"
	"testing"
)

func TestParseMountLine(t *testing.T) {
	line := `53 48 0:41 / /var/lib/containers/storage/overlay/abc/merged rw,relatime - overlay overlay rw,lowerdir=/l/one:/l/two\072colon::/data/only,upperdir=/u/with\040space,workdir=/w,uuid=on`
	m, ok, err := parseMountLine(line)
	if err != nil || !ok {
		t.Fatalf("ok %v err %v", ok, err)
	}
	want := Mount{Point: "/var/lib/containers/storage/overlay/abc/merged"}
	want.Layers.Upper = "/u/with space"
	want.Layers.Lower = []string{"/l/one", "/l/two:colon"} // the data-only layer is not part of the tree
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got %+v\nwant %+v", m, want)
	}
	for _, l := range []string{
		"22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw",                                       // not an overlay
		"60 22 0:50 / /mnt ro,relatime - overlay overlay ro,lowerdir=/a:/b",                            // read-only: no upper
		"61 22 0:51 / /x rw master:3 shared:9 - overlay overlay rw,lowerdir=/a,upperdir=/u,workdir=/w", // optional fields
	} {
		m, ok, err := parseMountLine(l)
		if err != nil {
			t.Errorf("%s: %v", l, err)
		}
		if ok != (m.Layers.Upper == "/u") {
			t.Errorf("%s: ok %v, mount %+v", l, ok, m)
		}
	}
	if _, _, err := parseMountLine("garbage"); err == nil {
		t.Error("a line that is not mountinfo parsed")
	}
}
