package containers

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"driftd/baseline/overlay"
)

// Mount is an overlay root in the mount table: a container's rootfs.
type Mount struct {
	Point  string // where it is mounted, as a host path
	Layers overlay.Layers
}

// readMounts lists the overlay mounts with an upper directory in the
// mount table at path, each path put under hostRoot. Mounts of the same
// upper directory (a rootfs also mounted elsewhere) count once.
func readMounts(path, hostRoot string) ([]Mount, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read mount table %s: %w", path, err)
	}
	var mounts []Mount
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		m, ok, err := parseMountLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("mount table %s: line %d: %w", path, line, err)
		}
		if !ok || seen[m.Layers.Upper] {
			continue
		}
		seen[m.Layers.Upper] = true
		m.Point = underRoot(hostRoot, m.Point)
		m.Layers.Upper = underRoot(hostRoot, m.Layers.Upper)
		for i := range m.Layers.Lower {
			m.Layers.Lower[i] = underRoot(hostRoot, m.Layers.Lower[i])
		}
		mounts = append(mounts, m)
	}
	return mounts, sc.Err()
}

// parseMountLine reads one line of /proc/PID/mountinfo (proc(5)); ok is
// false for anything but an overlay with an upper directory.
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - overlay overlay rw,lowerdir=...,upperdir=...,workdir=...
func parseMountLine(line string) (m Mount, ok bool, err error) {
	fields := strings.Fields(line)
	sep := -1
	for i, f := range fields {
		if f == "-" && i >= 6 {
			sep = i
			break
		}
	}
	if sep < 0 || len(fields) < sep+4 {
		return Mount{}, false, fmt.Errorf("not a mountinfo line: %q", line)
	}
	if fields[sep+1] != "overlay" {
		return Mount{}, false, nil
	}
	m.Point = unescape(fields[4])
	for _, opt := range strings.Split(fields[sep+3], ",") {
		key, value, _ := strings.Cut(opt, "=")
		switch key {
		case "upperdir":
			m.Layers.Upper = unescape(value)
		case "lowerdir":
			// Data-only layers follow "::": they hold content for the
			// layers above and are not part of the tree.
			visible, _, _ := strings.Cut(value, "::")
			for _, l := range strings.Split(visible, ":") {
				m.Layers.Lower = append(m.Layers.Lower, unescape(l))
			}
		}
	}
	if m.Layers.Upper == "" || len(m.Layers.Lower) == 0 {
		return Mount{}, false, nil // read-only: nothing can change there
	}
	return m, true, nil
}

// unescape undoes the kernel's octal escapes (\040 for a space, \072 for
// a colon in a layer's path, \134 for a backslash).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// underRoot is the host path p as seen from here.
func underRoot(root, p string) string {
	if root == "/" {
		return p
	}
	return filepath.Join(root, p)
}
