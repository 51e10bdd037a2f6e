package reporter

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Container names a container as its runtime does. Only Runtime and ID
// are always set: a mount no runtime's metadata explains is still
// watched, named by its mount point.
type Container struct {
	Runtime     string `json:"runtime"` // podman, cri-o, docker, containerd, or overlay
	ID          string `json:"id"`
	Name        string `json:"name"`
	Image       string `json:"image,omitempty"`        // the reference it was started from
	ImageDigest string `json:"image_digest,omitempty"` // where the runtime records it
	Pod         string `json:"pod,omitempty"`          // Kubernetes pod and namespace, from its labels
	Namespace   string `json:"namespace,omitempty"`
}

// Label is the container's value of the container label: its name, with
// the pod and namespace in Kubernetes, where names repeat across pods.
func (c Container) Label() string {
	if c.Pod != "" {
		return c.Namespace + "/" + c.Pod + "/" + c.Name
	}
	return c.Name
}

// ContainerJSON is one container's drift, for status and check.
type ContainerJSON struct {
	Container
	Mount      string    `json:"mount"`
	Upper      string    `json:"upper"`
	Status     Status    `json:"status"` // clean, drift, or unverified
	Reason     string    `json:"reason,omitempty"`
	Discovered time.Time `json:"discovered"`
	// ReplacementRequired: drift at the policy's severity marked the
	// container for replacement; Since says when.
	ReplacementRequired bool          `json:"replacement_required,omitempty"`
	Since               *time.Time    `json:"replacement_required_since,omitempty"`
	Findings            []TrackedJSON `json:"findings"`
	// Baseline is the driftd baseline baked in its image, if it has one:
	// its rules judge the container.
	Baseline *ContainerBaseline `json:"baseline,omitempty"`
}

// ContainerBaseline is the baseline baked in a container's image.
type ContainerBaseline struct {
	ID      string `json:"id"`
	Key     string `json:"key"`      // the id of the key that verified it
	KeyFrom string `json:"key_from"` // trusted_keys, or image: the key the image ships
	// FirstBoot is the state of its first-boot paths: "open" (they may
	// change until FirstBootUntil), "sealed" (compared with their state at
	// SealedAt), "unsealed" (the window closed while driftd did not run:
	// a first-boot path changed from the image cannot be verified), or
	// "none" (its rules mark none).
	FirstBoot      string     `json:"first_boot"`
	FirstBootUntil *time.Time `json:"first_boot_until,omitempty"`
	SealedAt       *time.Time `json:"sealed_at,omitempty"`
	Pending        []string   `json:"pending,omitempty"` // first-boot paths changed while open, or unsealed
}

// describe says in a line what judges the container and where its first
// boot stands.
func (b *ContainerBaseline) describe() string {
	out := fmt.Sprintf("baseline %s baked in the image (key %s, from %s)", b.ID, b.Key, b.KeyFrom)
	switch b.FirstBoot {
	case "open":
		out += fmt.Sprintf("; first boot open until %s, %d paths changed so far", b.FirstBootUntil.Local().Format(time.DateTime), len(b.Pending))
	case "sealed":
		out += "; first boot sealed " + b.SealedAt.Local().Format(time.DateTime)
	case "unsealed":
		out += fmt.Sprintf("; first boot never sealed (driftd was not running when it ended): %d first-boot paths changed, not verified", len(b.Pending))
	}
	return out
}

// WriteContainersText renders containers for a terminal: one line per
// container, then its findings.
func WriteContainersText(w io.Writer, cs []ContainerJSON) error {
	if len(cs) == 0 {
		_, err := fmt.Fprintln(w, "no containers (no overlay root with an upper directory in the mount table)")
		return err
	}
	for i, c := range cs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s %s (%s %s", strings.ToUpper(string(c.Status)), DisplayPath(c.Name), c.Runtime, shortID(c.ID))
		if c.Image != "" {
			fmt.Fprintf(w, ", image %s", c.Image)
		}
		if c.Pod != "" {
			fmt.Fprintf(w, ", pod %s/%s", c.Namespace, c.Pod)
		}
		fmt.Fprintln(w, ")")
		if c.Baseline != nil {
			fmt.Fprintf(w, "  %s\n", c.Baseline.describe())
		}
		if c.Reason != "" {
			fmt.Fprintf(w, "  %s\n", c.Reason)
		}
		if c.ReplacementRequired {
			fmt.Fprintf(w, "  REPLACEMENT REQUIRED since %s\n", c.Since.Local().Format(time.DateTime))
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, f := range c.Findings {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", f.Kind, f.Severity, f.Category, DisplayPath(f.Path), strings.Join(f.Changes, ","))
		}
		tw.Flush()
		details := make([]*FindingJSON, len(c.Findings))
		for i := range c.Findings {
			details[i] = &c.Findings[i].FindingJSON
		}
		writeDetails(w, details)
	}
	return nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// ContainerMetrics are the per-container series. Their cardinality is
// bounded by the containers running: one driftd_container_info per
// container, and a driftd_container_drift_paths per severity it has drift
// at (five at most); a container's series go when it does.
type ContainerMetrics struct {
	Containers          prometheus.Gauge
	info                *prometheus.GaugeVec // container, image, runtime, pod, namespace
	DriftPaths          *prometheus.GaugeVec // container, image, severity
	Unverified          *prometheus.GaugeVec // container, image
	ReplacementRequired *prometheus.GaugeVec // container, image
	HookRuns            *prometheus.CounterVec
}

// NewContainerMetrics defines the container metrics in the daemon's
// registry.
func (m *Metrics) NewContainerMetrics() *ContainerMetrics {
	c := &ContainerMetrics{
		Containers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "driftd_containers", Help: "Containers watched now (overlay roots with an upper directory).",
		}),
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftd_container_info", Help: "A container watched now, as its runtime names it.",
		}, []string{"container", "image", "runtime", "pod", "namespace"}),
		DriftPaths: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftd_container_drift_paths", Help: "Paths of a container drifted from its image now, by severity; absent at 0.",
		}, []string{"container", "image", "severity"}),
		Unverified: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftd_container_unverified", Help: "1 while a container's drift cannot be verified (its changes unread, its image's baseline unverified, first-boot paths unsealed): it is not clean.",
		}, []string{"container", "image"}),
		ReplacementRequired: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftd_container_replacement_required", Help: "1 when a container drifted at the policy's severity and must be replaced.",
		}, []string{"container", "image"}),
		HookRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftd_container_hook_runs_total", Help: "Runs of the container replacement hook, by outcome (success, failure, timeout).",
		}, []string{"outcome"}),
	}
	m.Registry.MustRegister(c.Containers, c.info, c.DriftPaths, c.Unverified, c.ReplacementRequired, c.HookRuns)
	return c
}

// Found adds a container's info series.
func (c *ContainerMetrics) Found(id Container) {
	c.info.WithLabelValues(id.Label(), id.Image, id.Runtime, id.Pod, id.Namespace).Set(1)
}

// Gone deletes every series of a container.
func (c *ContainerMetrics) Gone(id Container) {
	labels := prometheus.Labels{"container": id.Label()}
	c.info.DeletePartialMatch(labels)
	c.DriftPaths.DeletePartialMatch(labels)
	c.Unverified.DeletePartialMatch(labels)
	c.ReplacementRequired.DeletePartialMatch(labels)
}
