package packaging

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v2"

	"driftd/agent/config"
)

// TestDaemonSet checks the Kubernetes example as far as it can be checked
// without a cluster: its config is one driftd accepts, reading the node's
// mount table through the host's PID namespace; the pod has the host's
// PID namespace, drops every capability but the three it needs, writes
// nothing of the host's, and carries Prometheus's scrape annotations.
func TestDaemonSet(t *testing.T) {
	docs := strings.Split(string(mustRead(t, "examples/kubernetes/driftd-daemonset.yaml")), "\n---\n")
	var configMap struct {
		Data map[string]string
	}
	var ds struct {
		Kind string
		Spec struct {
			Template struct {
				Metadata struct{ Annotations map[string]string }
				Spec     struct {
					HostPID    bool `yaml:"hostPID"`
					Containers []struct {
						Args            []string
						SecurityContext struct {
							ReadOnlyRootFilesystem bool `yaml:"readOnlyRootFilesystem"`
							Capabilities           struct{ Drop, Add []string }
						} `yaml:"securityContext"`
						VolumeMounts []struct{ MountPath string } `yaml:"volumeMounts"`
					}
					Volumes []map[string]any
				}
			}
		}
	}
	if len(docs) != 3 {
		t.Fatalf("%d documents, want namespace, config map, daemon set", len(docs))
	}
	if err := yaml.Unmarshal([]byte(docs[1]), &configMap); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(configMap.Data["driftd.toml"]), "driftd-daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.Containers; !c.Enabled || c.MountInfo != "/proc/1/mountinfo" || c.HostRoot != "/proc/1/root" {
		t.Errorf("containers config: %+v", c)
	}
	if err := yaml.Unmarshal([]byte(docs[2]), &ds); err != nil {
		t.Fatal(err)
	}
	pod := ds.Spec.Template
	if ds.Kind != "DaemonSet" || !pod.Spec.HostPID || len(pod.Spec.Containers) != 1 {
		t.Fatalf("not a hostPID DaemonSet of one container: %+v", ds)
	}
	c := pod.Spec.Containers[0]
	sc := c.SecurityContext
	if !sc.ReadOnlyRootFilesystem || strings.Join(sc.Capabilities.Drop, ",") != "ALL" ||
		strings.Join(sc.Capabilities.Add, ",") != "DAC_READ_SEARCH,SYS_PTRACE,SYS_ADMIN" {
		t.Errorf("security context: %+v", sc)
	}
	for _, v := range pod.Spec.Volumes {
		if _, ok := v["hostPath"]; ok {
			t.Errorf("a hostPath volume: the host is read through /proc/1/root, never mounted: %v", v)
		}
	}
	if a := pod.Metadata.Annotations; a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != "9827" {
		t.Errorf("scrape annotations: %v", a)
	}
}
