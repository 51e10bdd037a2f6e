package agent

import (
	"context"
	"errors"
	"runtime/debug"
	"slices"
	"time"

	"driftd/baseline"
	"driftd/baseline/check"
	"driftd/reporter"
)

// ScanMode is how a comparison was made, as driftd_last_scan_timestamp_seconds
// and the status label it.
type ScanMode string

// The scan modes.
const (
	ModeFull  ScanMode = "full"  // every file read and hashed
	ModeFast  ScanMode = "fast"  // only what changed size, times or inode
	ModeWatch ScanMode = "watch" // the paths the watch saw change
)

type scanResult struct {
	mode    ScanMode
	res     check.Result
	started time.Time
	took    time.Duration
	err     error
}

// requestScan starts a scan job, or queues it behind the one running (a
// full scan covers a fast one).
func (d *Daemon) requestScan(mode ScanMode) {
	if d.pipe == nil {
		return
	}
	if d.scanning {
		if d.pending != ModeFull {
			d.pending = mode
		}
		return
	}
	d.scanning = true
	p, pkgs := d.pipe, d.pkgs.check
	scan := check.Scan{Fast: mode == ModeFast, BeforeList: d.watching()}
	if mode == ModeFull {
		scan.BytesPerSecond = d.cfg.Schedule.FullScanBytesPerSecond
	}
	ctx := d.ctx
	d.jobs.Go(func() {
		start := time.Now()
		res, err := p.Compare(ctx, "/", scan)
		res.Explain(&pkgs)
		r := scanResult{mode: mode, res: res, started: start, took: time.Since(start), err: err}
		select {
		case d.scanDone <- r:
		case <-ctx.Done():
		}
	})
}

// watching is called with each directory a walk is about to list, and
// watches it first: what is made in it while it is listed raises an event
// then, where a watch added after the listing missed it until the next
// scan. nil when nothing is watched.
func (d *Daemon) watching() func(dir string) {
	w := d.watch
	if w == nil {
		return nil
	}
	return func(dir string) { w.add([]string{dir}) }
}

// applyScan takes a whole-root comparison into the state. Paths re-checked
// while the scan ran are re-checked again: the scan may have read them
// before they changed.
func (d *Daemon) applyScan(r scanResult) {
	d.scanning = false
	if r.err != nil {
		if !errors.Is(r.err, context.Canceled) {
			d.metrics.ScanErrors.Inc()
			d.log.Error("scan failed", "mode", r.mode, "err", r.err)
			d.announce() // up, though without a verdict: status stays "starting"
		}
		return
	}
	if len(r.res.Unverified) > 0 {
		d.metrics.ScanErrors.Inc()
	}
	d.commit(scopes{"/": true}, r.res, r.mode)
	d.checkBaselineFile() // where the watch cannot see it (a --baseline outside the root)
	d.checked = true
	d.requestPackages(false)
	if d.pkgs.read {
		defer d.announce()
	} // else the first read of the package databases announces

	// A whole-root scan leaves its garbage at the heap's peak; give it back
	// to the host now rather than at the runtime's leisure.
	debug.FreeOSMemory()
	d.recordScan(r.mode, r.started.Add(r.took), r.took, r.res.Entries)
	if len(d.rechecked) > 0 {
		for p := range d.rechecked {
			d.backlog = append(d.backlog, p)
		}
		clear(d.rechecked)
		d.requestRecheck()
	}
	d.publish()
}

// recheckBatch bounds the dirty paths one re-check job takes: a storm is
// taken a bounded batch at a time, so a batch's memory stays small.
const recheckBatch = 2000

type recheckResult struct {
	done   scopes // the paths re-checked (and what is below them)
	res    check.Result
	took   time.Duration
	failed int
}

// requestRecheck starts a job that re-checks the next batch of dirty
// paths, unless one runs: the loop stays free to answer while a large
// subtree is walked and hashed on the walker's pool.
func (d *Daemon) requestRecheck() {
	if d.pipe == nil || d.rechecking || len(d.backlog) == 0 {
		return
	}
	paths := baseline.TopMost(d.backlog)
	n := min(len(paths), recheckBatch)
	batch := slices.Clone(paths[:n])
	d.backlog = slices.Delete(paths, 0, n)
	d.rechecking = true
	p, pkgs, ctx := d.pipe, d.pkgs.check, d.ctx
	scan := check.Scan{BeforeList: d.watching()}
	d.jobs.Go(func() {
		start := time.Now()
		r := recheckResult{done: scopes{}}
		for _, path := range batch {
			res, err := p.Compare(ctx, path, scan)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				d.log.Error("re-check failed", "path", path, "err", err)
				r.failed++
				continue
			}
			r.done[path] = true
			r.res.Findings = append(r.res.Findings, res.Findings...)
			r.res.Pending = append(r.res.Pending, res.Pending...)
			r.res.Unverified = append(r.res.Unverified, res.Unverified...)
			r.res.Entries += res.Entries
		}
		r.res.Explain(&pkgs)
		r.took = time.Since(start)
		select {
		case d.recheckEnd <- r:
		case <-ctx.Done():
		}
	})
}

// applyRecheck commits a re-check job's comparisons.
func (d *Daemon) applyRecheck(r recheckResult) {
	d.rechecking = false
	for range r.failed {
		d.metrics.ScanErrors.Inc()
	}
	d.commit(r.done, r.res, ModeWatch)
	if d.scanning { // the scan may have read these paths before they changed
		for p := range r.done {
			d.rechecked[p] = true
		}
	}
	d.handBack(1000)
	d.recordScan(ModeWatch, time.Now(), r.took, r.res.Entries)
	d.publish()
}

// recordScan keeps a scan's figures for the status and the metrics.
func (d *Daemon) recordScan(mode ScanMode, finished time.Time, took time.Duration, entries int) {
	d.scans[mode] = reporter.ScanJSON{Finished: finished, DurationSeconds: took.Seconds(), Entries: entries}
	d.metrics.LastScan.WithLabelValues(string(mode)).Set(float64(finished.Unix()))
	d.metrics.ScanDuration.WithLabelValues(string(mode)).Set(took.Seconds())
}
