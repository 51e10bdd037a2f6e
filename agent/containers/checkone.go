package containers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"driftd/baseline"
	"driftd/reporter"
)

// CheckOne compares one running container with its image, once: the
// container whose id (or an unambiguous prefix of it, 4 characters at
// least), name or container label is key, walked by a pool of workers.
// Of opts, only Baked and StateDir are used: the container's record (its
// seal, its mark) is read, never written.
func CheckOne(ctx context.Context, cfg Config, rules *baseline.Rules, opts Options, workers int, key string) (reporter.ContainerJSON, error) {
	mounts, err := readMounts(cfg.MountInfo, cfg.HostRoot)
	if err != nil {
		return reporter.ContainerJSON{}, err
	}
	var matches []*container
	var names []string
	for _, mt := range mounts {
		id := identify(mt)
		names = append(names, id.Label())
		if id.ID == key || id.Name == key || id.Label() == key || len(key) >= 4 && strings.HasPrefix(id.ID, key) {
			matches = append(matches, newContainer(id, mt, rules, time.Now()))
		}
	}
	switch {
	case len(matches) == 0 && len(mounts) == 0:
		return reporter.ContainerJSON{}, fmt.Errorf("container %q: not running here (no container runs here: no overlay root with an upper directory in %s)", key, cfg.MountInfo)
	case len(matches) == 0:
		return reporter.ContainerJSON{}, fmt.Errorf("container %q: not running here (running: %s)", key, strings.Join(names, ", "))
	case len(matches) > 1:
		return reporter.ContainerJSON{}, fmt.Errorf("container %q: %d containers match; give more of the id", key, len(matches))
	}
	c := matches[0]
	if err := c.setUp(&cfg, &opts, c.found); err != nil {
		return reporter.ContainerJSON{}, fmt.Errorf("container %s: %w", c.id.Label(), err)
	}
	c.differ.Workers = workers
	changes, err := c.differ.Diff(ctx, "/")
	if err != nil {
		c.reason = fmt.Sprintf("cannot read its upper directory: %v", err)
	}
	for _, f := range c.judge(&cfg, changes, "/") {
		c.findings[f.Path] = &tracked{finding: f, firstSeen: c.found}
	}
	return c.json(), nil
}
