package policy

import (
	"testing"

	"driftd/baseline"
)

func TestPolicyTaints(t *testing.T) {
	tests := []struct {
		policy   Config
		category string
		sev      baseline.Severity
		want     bool
	}{
		{Config{MinSeverity: "critical"}, "ssh", baseline.SeverityCritical, true},
		{Config{MinSeverity: "critical"}, "config", baseline.SeverityHigh, false},
		{Config{MinSeverity: "high"}, "config", baseline.SeverityHigh, true},
		{Config{MinSeverity: "critical", Categories: []string{"ssh"}}, "ssh", baseline.SeverityInfo, true},
		{Config{MinSeverity: "none"}, "binaries", baseline.SeverityCritical, false},
		{Config{MinSeverity: "none", Categories: []string{"binaries"}}, "binaries", baseline.SeverityLow, true},
	}
	for _, tt := range tests {
		if got := tt.policy.Taints(tt.category, tt.sev); got != tt.want {
			t.Errorf("%+v taints %s/%s: %v, want %v", tt.policy, tt.category, tt.sev, got, tt.want)
		}
	}
}

// The host's marker is written for the host alone; a root (an image, a
// container) gets only a marker its config names.
func TestMarkerForRoot(t *testing.T) {
	host := Config{MarkerFile: HostMarker}
	if got := host.ForRoot("/").MarkerFile; got != HostMarker {
		t.Errorf("the host: marker %q", got)
	}
	if got := host.ForRoot("/mnt/image").MarkerFile; got != "" {
		t.Errorf("an image root writes the host's marker %q", got)
	}
	own := Config{MarkerFile: "/var/run/image-marker"}
	if got := own.ForRoot("/mnt/image").MarkerFile; got != "/var/run/image-marker" {
		t.Errorf("an image root's own marker: %q", got)
	}
}
