package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"driftd/reporter"
)

// podmanArgs run containers on a machine whose cgroups are a hybrid of v1
// and v2 and whose rlimits are below Podman's defaults (this CI's VMs):
// runc with cgroupfs, no network, the machine's own limits.
var podmanArgs = []string{"--runtime", "runc", "--cgroup-manager", "cgroupfs"}

func podman(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("podman", append(podmanArgs, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// containerImage imports an image from a tarball the test builds (no
// registry): a static tool that sleeps, writes a file, or drops an
// executable.
func containerImage(t testing.TB) string {
	t.Helper()
	return buildImage(t, "localhost/driftd-e2e:1", nil)
}

// buildImage imports the image ref, whose root finish may add to before
// it is packed (a Dockerfile's last steps).
func buildImage(t testing.TB, ref string, finish func(root string)) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "tool.go")
	os.WriteFile(src, []byte(`package main

import (
	"os"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) == 5 && os.Args[1] == "write" {
		mode, _ := strconv.ParseUint(os.Args[4], 8, 32)
		os.WriteFile(os.Args[2], []byte(os.Args[3]), os.FileMode(mode))
		os.Chmod(os.Args[2], os.FileMode(mode))
		return
	}
	time.Sleep(time.Hour)
}
`), 0o644)
	root := filepath.Join(dir, "root")
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/motd"), []byte("as built\n"), 0o644)
	build := exec.Command("go", "build", "-o", filepath.Join(root, "bin/tool"), src)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the image's tool: %v\n%s", err, out)
	}
	if finish != nil {
		finish(root)
	}
	tarball := filepath.Join(dir, "image.tar")
	if out, err := exec.Command("tar", "-C", root, "-cf", tarball, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	podman(t, "import", tarball, ref)
	return ref
}

// runContainer starts a container of image and removes it at the end.
func runContainer(t testing.TB, name, image string) {
	t.Helper()
	exec.Command("podman", append(podmanArgs, "rm", "-f", "-t", "0", name)...).Run()
	podman(t, "run", "-d", "--name", name, "--network", "none", "--ulimit", "nofile=1024:1024",
		"--ulimit", "nproc=1024:1024", image, "/bin/tool")
	t.Cleanup(func() { exec.Command("podman", append(podmanArgs, "rm", "-f", "-t", "0", name)...).Run() })
}

// containersStatus is driftd status --containers, decoded.
func (d *daemon) containersStatus() ([]reporter.ContainerJSON, result) {
	d.t.Helper()
	r := driftd(d.t, nil, "status", "--containers", "--state-dir", d.stateDir, "--format", "json")
	var cs []reporter.ContainerJSON
	json.Unmarshal([]byte(r.stdout), &cs)
	return cs, r
}

func findContainer(cs []reporter.ContainerJSON, name string) *reporter.ContainerJSON {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

// startContainerDaemon runs the daemon on a fixture host with the
// [containers] section given (its header included), and returns it with
// its config's path.
func startContainerDaemon(t testing.TB, section string) (*daemon, string) {
	t.Helper()
	f := newDaemonFixture(t, "")
	f.bake(t, f.manifest)
	cfg := filepath.Join(t.TempDir(), "driftd.toml")
	if err := os.WriteFile(cfg, []byte(daemonConfig("\n"+section)), 0o644); err != nil {
		t.Fatal(err)
	}
	f.config = cfg
	return startDaemon(t, f, t.TempDir()), cfg
}

// TestPodmanContainerDrift: a real Podman container is found and named,
// a change made in it with podman exec is reported with its name and
// image, driftd check --container says so too, and podman rm takes its
// series away.
func TestPodmanContainerDrift(t *testing.T) {
	image := containerImage(t)
	d, cfg := startContainerDaemon(t, "[containers]\nenabled = true\ninterval = \"500ms\"\n")

	name := fmt.Sprintf("driftd-e2e-%d", time.Now().UnixNano()%1e6)
	started := time.Now()
	runContainer(t, name, image)
	var c *reporter.ContainerJSON
	d.eventually(10*time.Second, "the container is listed", func() bool {
		cs, _ := d.containersStatus()
		c = findContainer(cs, name)
		return c != nil
	})
	t.Logf("container listed %s after podman run began", time.Since(started).Round(time.Millisecond))
	if c.Runtime != "podman" || c.Image != image || !strings.HasPrefix(c.ImageDigest, "sha256:") || c.Status != reporter.StatusClean {
		t.Fatalf("container as listed: %+v", c)
	}

	changed := time.Now()
	podman(t, "exec", name, "/bin/tool", "write", "/etc/motd", "changed by hand\n", "644")
	podman(t, "exec", name, "/bin/tool", "write", "/usr/bin/evil", "\x7fELF", "755")
	var drift []string
	d.eventually(10*time.Second, "both changes are events with the container", func() bool {
		drift = nil
		for _, line := range strings.Split(d.events(), "\n") {
			var ev struct {
				Msg, Path, Kind, Severity string
				Container                 reporter.Container
			}
			if json.Unmarshal([]byte(line), &ev) == nil && ev.Msg == "drift" && ev.Container.Name == name && ev.Container.Image == image {
				drift = append(drift, ev.Kind+" "+ev.Path+" "+ev.Severity)
			}
		}
		return len(drift) == 2
	})
	t.Logf("changes reported within %s of the first podman exec", time.Since(changed).Round(time.Millisecond))
	if got := strings.Join(drift, "; "); got != "modified /etc/motd high; added /usr/bin/evil critical" {
		t.Errorf("drift events: %s", got)
	}
	// The series follow the events (the mark follows the finding that
	// asks for it): wait for them, not for a scrape at a given moment.
	wants := []string{
		fmt.Sprintf(`driftd_container_drift_paths{container=%q,image=%q,severity="critical"} 1`, name, image),
		fmt.Sprintf(`driftd_container_drift_paths{container=%q,image=%q,severity="high"} 1`, name, image),
		fmt.Sprintf(`driftd_container_replacement_required{container=%q,image=%q} 1`, name, image),
	}
	var m string
	hasAll := func() bool {
		m = d.metrics()
		return !slices.ContainsFunc(wants, func(w string) bool { return !strings.Contains(m, w) })
	}
	for deadline := time.Now().Add(5 * time.Second); !hasAll() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range wants {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, grepMetrics(m, "driftd_container"))
		}
	}
	cs, r := d.containersStatus()
	if c := findContainer(cs, name); c == nil || c.Status != reporter.StatusDrift || r.code != 1 {
		t.Errorf("status --containers: %v", r)
	}
	if r := driftd(t, nil, "check", "--config", cfg, "--container", name); r.code != 1 || !strings.Contains(r.stdout, "/usr/bin/evil") {
		t.Errorf("check --container: %v", r)
	}

	podman(t, "rm", "-f", "-t", "0", name)
	d.eventually(10*time.Second, "the container's series are gone", func() bool {
		return !strings.Contains(d.metrics(), fmt.Sprintf("container=%q", name))
	})
	if r := driftd(t, nil, "check", "--config", cfg, "--container", name); r.code != 2 || !strings.Contains(r.stderr, "not running here") {
		t.Errorf("check --container of a removed container: %v", r)
	}
}

// bakedImageConfig is the config an image ships: the default's rules and
// two of its own, one of them first-boot paths its entrypoint writes.
const bakedImageConfig = `
[[rule]]
paths = ["/srv/cache/**"]
ignore = true

[[rule]]
paths = ["/etc/app.conf"]
first_boot = true
`

// TestPodmanBakedBaseline: an image whose build ended with driftd bake
// (its config, key and manifest in the image) is judged by that baseline:
// its rules, its first-boot path written in the container's first seconds
// and then sealed, the seal kept in the daemon's state dir; a trusted key
// that did not sign it leaves the container unverified.
func TestPodmanBakedBaseline(t *testing.T) {
	keys := t.TempDir()
	for _, k := range []string{"image", "other"} {
		if r := driftd(t, nil, "keygen", "--out", filepath.Join(keys, k)); r.code != 0 {
			t.Fatalf("keygen: %v", r)
		}
	}
	image := buildImage(t, "localhost/driftd-e2e-baked:1", func(root string) {
		os.MkdirAll(filepath.Join(root, "etc/driftd"), 0o755)
		os.MkdirAll(filepath.Join(root, "srv/cache"), 0o755)
		os.WriteFile(filepath.Join(root, "etc/app.conf"), []byte("port = 80\n"), 0o644)
		os.WriteFile(filepath.Join(root, "etc/driftd/driftd.toml"), []byte(bakedImageConfig), 0o644)
		pub, _ := os.ReadFile(filepath.Join(keys, "image.pub"))
		os.WriteFile(filepath.Join(root, "etc/driftd/baseline.pub"), pub, 0o644)
		if r := driftd(t, nil, "bake", "--config", filepath.Join(root, "etc/driftd/driftd.toml"), "--root", root,
			"--key", filepath.Join(keys, "image.key"), "--out", filepath.Join(root, "etc/driftd/baseline.manifest")); r.code != 0 {
			t.Fatalf("bake the image: %v", r)
		}
	})
	d, cfg := startContainerDaemon(t, "[containers]\nenabled = true\ninterval = \"500ms\"\nfirst_boot = \"4s\"\n")

	name := fmt.Sprintf("driftd-baked-%d", time.Now().UnixNano()%1e6)
	runContainer(t, name, image)
	// The entrypoint's first seconds: it writes its config, and a cache.
	podman(t, "exec", name, "/bin/tool", "write", "/etc/app.conf", "port = 8080\n", "644")
	podman(t, "exec", name, "/bin/tool", "write", "/srv/cache/x", "cached\n", "644")
	var c *reporter.ContainerJSON
	d.eventually(15*time.Second, "the container's first boot is sealed", func() bool {
		cs, _ := d.containersStatus()
		c = findContainer(cs, name)
		return c != nil && c.Baseline != nil && c.Baseline.FirstBoot == "sealed"
	})
	if c.Baseline.KeyFrom != "image" || c.Baseline.ID == "" || c.Status != reporter.StatusClean {
		t.Fatalf("sealed container: %+v %+v", c.Baseline, c)
	}
	if !strings.Contains(d.events(), `"msg":"container_sealed"`) {
		t.Error("no container_sealed event")
	}

	podman(t, "exec", name, "/bin/tool", "write", "/etc/app.conf", "port = 1\n", "644")
	podman(t, "exec", name, "/bin/tool", "write", "/usr/bin/evil", "\x7fELF", "755")
	d.eventually(10*time.Second, "both changes after the seal are drift", func() bool {
		cs, _ := d.containersStatus()
		c = findContainer(cs, name)
		return c != nil && len(c.Findings) == 2
	})
	var got []string
	for _, f := range c.Findings {
		got = append(got, f.Kind+" "+f.Path+" "+f.Severity)
	}
	if s := strings.Join(got, "; "); !strings.HasPrefix(s, "modified /etc/app.conf ") || !strings.HasSuffix(s, "; added /usr/bin/evil critical") {
		t.Errorf("findings after the seal: %s", s)
	}
	if s, _ := d.status(); s.Status != reporter.StatusClean {
		t.Errorf("the host's status is %s: the container seals in the state dir were taken for tampering? %+v", s.Status, s.Findings)
	}
	if r := driftd(t, nil, "check", "--config", cfg, "--state-dir", d.stateDir, "--container", name); r.code != 1 ||
		!strings.Contains(r.stdout, "baked in the image") || !strings.Contains(r.stdout, "first boot sealed") {
		t.Errorf("check --container: %v", r)
	}
	trusted := filepath.Join(t.TempDir(), "driftd.toml")
	os.WriteFile(trusted, []byte(daemonConfig(fmt.Sprintf("\n[containers]\ntrusted_keys = [%q]\n", filepath.Join(keys, "other.pub")))), 0o644)
	if r := driftd(t, nil, "check", "--config", trusted, "--container", name); r.code != 2 ||
		!strings.Contains(r.stdout, "not signed by any of containers.trusted_keys") {
		t.Errorf("check --container with a trusted key that did not sign it: %v", r)
	}
}
