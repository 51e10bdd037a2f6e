package containers

import (
	"os"
	"path/filepath"
	"testing"

	"driftd/baseline/overlay"
	"driftd/reporter"
)

func file(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestIdentifyFromRuntimeFiles names containers from the files Docker and
// containerd keep, laid out as they lay them out (neither runs on this
// machine; Podman's are read from real containers in cmd/driftd).
func TestIdentifyFromRuntimeFiles(t *testing.T) {
	root := t.TempDir()
	docker := root + "/var/lib/docker"
	file(t, docker+"/image/overlay2/layerdb/mounts/c0ffee/mount-id", "m1\n")
	file(t, docker+"/containers/c0ffee/config.v2.json", `{"Name":"/web","Image":"sha256:abc",
		"Config":{"Image":"nginx:1.27","Labels":{"io.kubernetes.pod.name":"web-7f9c","io.kubernetes.pod.namespace":"shop","io.kubernetes.container.name":"nginx"}}}`)
	bundle := root + "/run/containerd/io.containerd.runtime.v2.task/k8s.io/d00d"
	file(t, bundle+"/config.json", `{"annotations":{"io.kubernetes.cri.container-name":"api",
		"io.kubernetes.cri.sandbox-name":"api-0","io.kubernetes.cri.sandbox-namespace":"prod","io.kubernetes.cri.image-name":"ghcr.io/x/api:2"}}`)

	for _, tt := range []struct {
		mount Mount
		want  reporter.Container
	}{
		{Mount{Point: docker + "/overlay2/m1/merged", Layers: overlay.Layers{Upper: docker + "/overlay2/m1/diff"}},
			reporter.Container{Runtime: "docker", ID: "c0ffee", Name: "nginx", Image: "nginx:1.27", ImageDigest: "sha256:abc", Pod: "web-7f9c", Namespace: "shop"}},
		{Mount{Point: bundle + "/rootfs", Layers: overlay.Layers{Upper: root + "/var/lib/containerd/snapshots/9/fs"}},
			reporter.Container{Runtime: "containerd", ID: "d00d", Name: "api", Image: "ghcr.io/x/api:2", Pod: "api-0", Namespace: "prod"}},
		{Mount{Point: "/mnt/x", Layers: overlay.Layers{Upper: "/srv/upper"}},
			reporter.Container{Runtime: "overlay", ID: identify(Mount{Layers: overlay.Layers{Upper: "/srv/upper"}}).ID, Name: "/mnt/x"}},
	} {
		if got := identify(tt.mount); got != tt.want {
			t.Errorf("identify(%s):\n got %+v\nwant %+v", tt.mount.Point, got, tt.want)
		}
	}
	if got := (reporter.Container{Name: "nginx", Pod: "web-7f9c", Namespace: "shop"}).Label(); got != "shop/web-7f9c/nginx" {
		t.Errorf("label %s", got)
	}
}
