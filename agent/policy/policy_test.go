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
