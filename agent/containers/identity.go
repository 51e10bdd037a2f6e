package containers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"driftd/reporter"
)

// Identity names a container as its runtime does.
type Identity = reporter.Container

// Kubernetes's labels on a container, as the runtimes record them.
const (
	labelPod           = "io.kubernetes.pod.name"
	labelNamespace     = "io.kubernetes.pod.namespace"
	labelContainerName = "io.kubernetes.container.name"
)

// identify names the container whose rootfs is m, from the first
// runtime's metadata that knows it.
func identify(m Mount) Identity {
	for _, try := range []func(Mount) (Identity, bool){fromContainersStorage, fromDocker, fromBundle} {
		if id, ok := try(m); ok {
			return id
		}
	}
	sum := sha256.Sum256([]byte(m.Layers.Upper))
	return Identity{Runtime: "overlay", ID: hex.EncodeToString(sum[:6]), Name: m.Point}
}

// fromContainersStorage reads containers/storage, which Podman and CRI-O
// share: the upper directory is STORAGE/overlay/LAYER/diff, and
// STORAGE/overlay-containers/containers.json names the container whose
// layer it is.
func fromContainersStorage(m Mount) (Identity, bool) {
	layerDir := filepath.Dir(m.Layers.Upper)
	if filepath.Base(m.Layers.Upper) != "diff" || filepath.Base(filepath.Dir(layerDir)) != "overlay" {
		return Identity{}, false
	}
	storage := filepath.Dir(filepath.Dir(layerDir))
	layer := filepath.Base(layerDir)
	var ctrs []struct {
		ID       string   `json:"id"`
		Names    []string `json:"names"`
		Image    string   `json:"image"`
		Layer    string   `json:"layer"`
		Metadata string   `json:"metadata"`
	}
	if !readJSON(filepath.Join(storage, "overlay-containers", "containers.json"), &ctrs) {
		return Identity{}, false
	}
	for _, c := range ctrs {
		if c.Layer != layer {
			continue
		}
		id := Identity{Runtime: "podman", ID: c.ID, Name: first(c.Names)}
		var meta struct {
			ImageName string `json:"image-name"`
			Name      string `json:"name"`
		}
		if json.Unmarshal([]byte(c.Metadata), &meta) == nil {
			id.Image = meta.ImageName
		}
		var images []struct {
			ID     string `json:"id"`
			Digest string `json:"digest"`
		}
		if readJSON(filepath.Join(storage, "overlay-images", "images.json"), &images) {
			for _, im := range images {
				if im.ID == c.Image {
					id.ImageDigest = im.Digest
				}
			}
		}
		var spec ociSpec
		if readJSON(filepath.Join(storage, "overlay-containers", c.ID, "userdata", "config.json"), &spec) {
			a := spec.Annotations
			if a["io.container.manager"] != "libpod" {
				id.Runtime = "cri-o"
			}
			id.Pod, id.Namespace = a[labelPod], a[labelNamespace]
			if n := a[labelContainerName]; n != "" {
				id.Name = n
			}
			if img := a["io.kubernetes.cri-o.ImageName"]; img != "" && id.Image == "" {
				id.Image = img
			}
		}
		return id, true
	}
	return Identity{}, false
}

// fromDocker reads Docker's overlay2 store: the upper directory is
// DOCKER/overlay2/MOUNTID/diff, layerdb/mounts/CONTAINER/mount-id says
// whose it is, and containers/CONTAINER/config.v2.json names it.
func fromDocker(m Mount) (Identity, bool) {
	mountDir := filepath.Dir(m.Layers.Upper)
	if filepath.Base(m.Layers.Upper) != "diff" || filepath.Base(filepath.Dir(mountDir)) != "overlay2" {
		return Identity{}, false
	}
	docker := filepath.Dir(filepath.Dir(mountDir))
	mountID := filepath.Base(mountDir)
	ids, _ := filepath.Glob(filepath.Join(docker, "image", "overlay2", "layerdb", "mounts", "*", "mount-id"))
	for _, f := range ids {
		b, err := os.ReadFile(f)
		if err != nil || strings.TrimSpace(string(b)) != mountID {
			continue
		}
		ctr := filepath.Base(filepath.Dir(f))
		var cfg struct {
			Name   string `json:"Name"`
			Image  string `json:"Image"`
			Config struct {
				Image  string            `json:"Image"`
				Labels map[string]string `json:"Labels"`
			} `json:"Config"`
		}
		id := Identity{Runtime: "docker", ID: ctr, Name: ctr}
		if readJSON(filepath.Join(docker, "containers", ctr, "config.v2.json"), &cfg) {
			id.Name = strings.TrimPrefix(cfg.Name, "/")
			id.Image, id.ImageDigest = cfg.Config.Image, cfg.Image
			id.Pod, id.Namespace = cfg.Config.Labels[labelPod], cfg.Config.Labels[labelNamespace]
			if n := cfg.Config.Labels[labelContainerName]; n != "" {
				id.Name = n
			}
		}
		return id, true
	}
	return Identity{}, false
}

// fromBundle reads the OCI bundle a rootfs is mounted in, as containerd
// does (.../io.containerd.runtime.v2.task/NAMESPACE/ID/rootfs beside
// config.json), with the CRI plugin's annotations for Kubernetes.
func fromBundle(m Mount) (Identity, bool) {
	bundle := filepath.Dir(m.Point)
	var spec ociSpec
	if filepath.Base(m.Point) != "rootfs" || !readJSON(filepath.Join(bundle, "config.json"), &spec) {
		return Identity{}, false
	}
	a := spec.Annotations
	id := Identity{Runtime: "containerd", ID: filepath.Base(bundle), Name: filepath.Base(bundle)}
	if n := a["io.kubernetes.cri.container-name"]; n != "" {
		id.Name = n
	}
	id.Image = a["io.kubernetes.cri.image-name"]
	id.Pod, id.Namespace = a["io.kubernetes.cri.sandbox-name"], a["io.kubernetes.cri.sandbox-namespace"]
	return id, true
}

// ociSpec is the part of an OCI runtime spec (config.json) read here.
type ociSpec struct {
	Annotations map[string]string `json:"annotations"`
}

func readJSON(path string, v any) bool {
	b, err := os.ReadFile(path)
	return err == nil && json.Unmarshal(b, v) == nil
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
