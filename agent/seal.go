package agent

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"driftd/baseline/check"
	"driftd/reporter"
)

// cloudInitPoll is how often a host waiting for cloud-init looks for
// boot-finished.
const cloudInitPoll = time.Second

// startSeal seals the host now if its first-boot window has closed, or
// waits for it to close (cloud-init finished, or its timeout past).
func (d *Daemon) startSeal() {
	d.sealWait = false
	s := d.pipe.SealState()
	switch {
	case s.Mode != check.Unsealed:
	case s.Unreadable:
		// A seal that cannot be read is not re-made: that would absorb
		// what changed since. The first-boot paths stay pending, said
		// loudly, until an operator removes the file.
		d.log.Error("seal unreadable: first-boot paths are not checked", "reason", s.Reason)
	default:
		if why, due := d.pipe.SealDue(time.Now()); due {
			d.requestSeal(why, nil, "driftd")
			return
		}
		d.sealWait = true
		d.log.Info("first boot: the seal waits for cloud-init", "timeout", d.cfg.FirstBoot.CloudInitTimeout)
	}
}

// pollSeal seals a host that waits for cloud-init once it has finished, or
// once the wait has timed out.
func (d *Daemon) pollSeal() {
	why, due := d.pipe.SealDue(time.Now())
	if !due {
		return
	}
	if why != check.CloudInitFinished {
		d.log.Warn("sealing without waiting for cloud-init any longer", "why", why)
	}
	d.requestSeal(why, nil, "driftd")
}

// sealResult is a finished seal job.
type sealResult struct {
	from, sealed *check.Pipeline
	why          string
	err          error
	reply        chan<- error // the local API's request, if it asked
	by           any          // who asked: the socket peer, or driftd itself
}

// requestSeal seals the host as a job: the first-boot paths (all of /home
// by default) are walked off the loop. reply, when set, gets the outcome.
func (d *Daemon) requestSeal(why string, reply chan<- error, by any) {
	answer := func(err error) {
		if reply != nil {
			reply <- err
		}
	}
	switch {
	case d.pipe == nil:
		answer(errors.New("no verified baseline: nothing to seal against"))
		return
	case d.pipe.SealState().Mode == check.Sealed:
		answer(check.ErrSealed)
		return
	case d.sealing:
		answer(errors.New("a seal is under way"))
		return
	}
	d.sealing, d.sealWait = true, false
	p, ctx := d.pipe, d.ctx
	d.jobs.Go(func() {
		sealed, err := p.Seal(ctx, why)
		select {
		case d.sealDone <- sealResult{from: p, sealed: sealed, why: why, err: err, reply: reply, by: by}:
		case <-ctx.Done():
		}
	})
}

// applySeal puts a finished seal in force and compares the first-boot
// paths with it from now on.
func (d *Daemon) applySeal(r sealResult) {
	d.sealing = false
	d.guard.wrote("seal.manifest", "host.json")
	defer d.checkState()
	if r.reply != nil {
		r.reply <- r.err
	}
	if r.err != nil {
		if !errors.Is(r.err, check.ErrSealed) {
			d.log.Error("seal failed", "err", r.err)
		}
		return
	}
	if d.pipe != r.from {
		// The pipeline changed meanwhile (new SSH paths): the seal
		// applies to the one in force.
		d.pipe = d.pipe.WithSeal(r.sealed.SealState().Seal, r.why)
	} else {
		d.pipe = r.sealed
	}
	s := d.pipe.SealState()
	d.events.LogAttrs(context.Background(), slog.LevelInfo, string(EventSealed), slog.String("why", r.why),
		slog.Int("paths", s.Seal.Entries.Len()), slog.Any("by", r.by), slog.String("baseline_id", d.baselineID()))
	d.remember(reporter.EventJSON{Time: time.Now(), Event: string(EventSealed)})
	d.requestScan(ModeFast) // the first-boot paths are compared from now on
}

func (d *Daemon) sealJSON() reporter.SealJSON {
	if d.pipe == nil {
		return reporter.SealJSON{}
	}
	st := d.pipe.SealState()
	s := reporter.SealJSON{Reason: st.Reason}
	if m := st.Seal; m != nil {
		s.Sealed, s.Time, s.Paths = true, time.Unix(m.Header.Created, 0).UTC(), m.Entries.Len()
	}
	if d.sealWait {
		s.Reason = "waiting for cloud-init to finish"
	}
	return s
}
