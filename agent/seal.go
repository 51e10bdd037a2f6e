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
			d.sealNow(why)
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
	d.sealNow(why)
}

// sealNow seals the host and compares the first-boot paths from now on.
func (d *Daemon) sealNow(why string) error {
	p, err := d.pipe.Seal(d.ctx, why)
	if err != nil {
		if !errors.Is(err, check.ErrSealed) {
			d.log.Error("seal failed", "err", err)
		}
		return err
	}
	d.pipe, d.sealWait = p, false
	s := p.SealState()
	d.events.LogAttrs(context.Background(), slog.LevelInfo, string(EventSealed), slog.String("why", why),
		slog.Int("paths", len(s.Seal.Entries)), slog.String("baseline_id", d.baselineID()))
	d.remember(reporter.EventJSON{Time: time.Now(), Event: string(EventSealed)})
	if d.checked {
		d.requestScan(ModeFast) // the first-boot paths are compared from now on
	}
	return nil
}

func (d *Daemon) sealJSON() reporter.SealJSON {
	if d.pipe == nil {
		return reporter.SealJSON{}
	}
	st := d.pipe.SealState()
	s := reporter.SealJSON{Reason: st.Reason}
	if m := st.Seal; m != nil {
		s.Sealed, s.Time, s.Paths = true, time.Unix(m.Header.Created, 0).UTC(), len(m.Entries)
	}
	if d.sealWait {
		s.Reason = "waiting for cloud-init to finish"
	}
	return s
}
