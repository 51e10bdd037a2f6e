package attrib

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
)

// procTable is the eBPF program's table of processes, by pid.
type procTable struct {
	objs  tracerObjects
	links []link.Link
}

// openProcTable loads the program and attaches it to the scheduler's fork
// and exec tracepoints.
func openProcTable() (*procTable, error) {
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("memlock: %w", err)
	}
	p := &procTable{}
	if err := loadTracerObjects(&p.objs, nil); err != nil {
		return nil, fmt.Errorf("load eBPF program: %w", err)
	}
	for _, prog := range []*ebpf.Program{p.objs.OnFork, p.objs.OnExec} {
		l, err := link.AttachTracing(link.TracingOptions{Program: prog})
		if err != nil {
			p.close()
			return nil, fmt.Errorf("attach eBPF program %s: %w", prog, err)
		}
		p.links = append(p.links, l)
	}
	return p, nil
}

// lookup names the process pid as the table last saw it.
func (p *procTable) lookup(pid uint32) (Writer, bool) {
	var rec tracerProc
	if err := p.objs.Procs.Lookup(&pid, &rec); err != nil {
		return Writer{}, false
	}
	return fromProc(&rec), true
}

func (p *procTable) close() error {
	for _, l := range p.links {
		l.Close()
	}
	return p.objs.Close()
}
