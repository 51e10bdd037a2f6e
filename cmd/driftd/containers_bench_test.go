package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"driftd/reporter"
)

// BenchmarkContainers runs the daemon beside 50 real Podman containers:
// how long until all are found, the idle daemon's CPU and RSS per
// container, the latency of a change in one (written through its rootfs
// mount, so podman exec's own start-up is not counted), and how long
// until the series of removed containers are gone.
func BenchmarkContainers(b *testing.B) {
	const n = 50
	image := containerImage(b)
	d, _ := startContainerDaemon(b, "[containers]\nenabled = true\n")
	ours := func() []reporter.ContainerJSON {
		var out []reporter.ContainerJSON
		cs, _ := d.containersStatus()
		for _, c := range cs {
			if strings.HasPrefix(c.Name, "driftd-bench-") {
				out = append(out, c)
			}
		}
		return out
	}
	time.Sleep(3 * time.Second)
	_, rss0 := procStat(b, d.cmd.Process.Pid)

	b.ResetTimer()
	for range b.N {
		start := time.Now()
		for i := range n {
			runContainer(b, fmt.Sprintf("driftd-bench-%02d", i), image)
		}
		started := time.Now()
		d.eventually(60*time.Second, "all containers listed", func() bool { return len(ours()) == n })
		fmt.Printf("\n%d containers: podman run took %.1fs; all listed %dms after the last run returned\n",
			n, started.Sub(start).Seconds(), time.Since(started).Milliseconds())

		time.Sleep(2 * time.Second)
		cpu0, _ := procStat(b, d.cmd.Process.Pid)
		const idle = 20 * time.Second
		time.Sleep(idle)
		cpu1, rss1 := procStat(b, d.cmd.Process.Pid)
		fmt.Printf("idle with %d containers: CPU %.2f%% of a core; RSS %.1f MiB against %.1f MiB with none: %.0f KiB per container\n",
			n, 100*cpu1.Seconds()/idle.Seconds()-100*cpu0.Seconds()/idle.Seconds(),
			float64(rss1)/(1<<20), float64(rss0)/(1<<20), float64(rss1-rss0)/1024/n)
		b.ReportMetric(float64(rss1-rss0)/1024/n, "KiB/container")

		var lat []time.Duration
		for i, c := range ours() {
			path := fmt.Sprintf("/etc/changed-%d", i)
			t0 := time.Now()
			if err := os.WriteFile(filepath.Join(c.Mount, path), []byte("x"), 0o644); err != nil {
				b.Fatal(err)
			}
			d.eventually(10*time.Second, "change reported", func() bool {
				return strings.Contains(d.events(), fmt.Sprintf(`"path":%q`, path))
			})
			lat = append(lat, time.Since(t0))
		}
		slices.Sort(lat)
		fmt.Printf("change in a container reported (polled every 20ms): median %v, max %v over %d containers\n",
			lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond), len(lat))

		for i := range n {
			podman(b, "rm", "-f", "-t", "0", fmt.Sprintf("driftd-bench-%02d", i))
		}
		removed := time.Now()
		d.eventually(60*time.Second, "series gone", func() bool { return !strings.Contains(d.metrics(), `container="driftd-bench-`) })
		fmt.Printf("series of %d removed containers gone %dms after the last podman rm returned\n", n, time.Since(removed).Milliseconds())
	}
}
