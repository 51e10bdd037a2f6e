// SPDX-License-Identifier: GPL-2.0
//go:build ignore

/* attrib.bpf.c keeps who each process is, as of its fork or exec, until
 * the table's oldest entries make room (long after it exits): its
 * executable, uids, audit session and ancestors. The fanotify events driftd reads name the pid of each change's writer; a
 * writer that exits at once (sed -i, cp, a shell redirect) is gone from
 * /proc by the time driftd reads the event, but not from this table.
 *
 * It uses only the scheduler's BTF tracepoints, which attach on kernels
 * that refuse fentry and kprobes. */

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

#define EXE_DEPTH 6
#define EXE_PART 32
#define ANCESTORS 8

/* proc is one process as it was at its last fork or exec. */
struct proc {
	__u32 tgid;
	__u32 uid;
	__u32 loginuid;
	__u32 sessionid;
	__u32 exe_complete; /* 1: exe holds every part up to its mount's root */
	__u32 ancestors[ANCESTORS]; /* the parent's tgid first; 0 past the top */
	char comm[16];
	char exe[EXE_DEPTH][EXE_PART]; /* the executable's path, leaf first */
};

/* procs by tgid. An LRU map: the oldest go first, exited or not, so a
 * process that exits stays known for as long as the host's churn allows,
 * which is far longer than driftd takes to read an event. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct proc);
} procs SEC(".maps");

/* A scratch record: struct proc is too big for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct proc);
} scratch SEC(".maps");

static __always_inline void record(struct task_struct *task)
{
	__u32 zero = 0;
	struct proc *p = bpf_map_lookup_elem(&scratch, &zero);
	if (!p)
		return;
	p->tgid = BPF_CORE_READ(task, tgid);
	p->uid = BPF_CORE_READ(task, cred, uid.val);
	p->loginuid = BPF_CORE_READ(task, loginuid.val);
	p->sessionid = BPF_CORE_READ(task, sessionid);
	BPF_CORE_READ_STR_INTO(&p->comm, task, comm);

	struct task_struct *t = task;
	for (int i = 0; i < ANCESTORS; i++)
		p->ancestors[i] = 0;
	for (int i = 0; i < ANCESTORS; i++) {
		t = BPF_CORE_READ(t, real_parent);
		if (!t)
			break;
		p->ancestors[i] = BPF_CORE_READ(t, tgid);
		if (p->ancestors[i] <= 1)
			break;
	}

	p->exe_complete = 0;
	struct dentry *d = BPF_CORE_READ(task, mm, exe_file, f_path.dentry);
	for (int i = 0; i < EXE_DEPTH; i++) {
		p->exe[i][0] = 0;
		if (!d)
			continue;
		struct dentry *parent = BPF_CORE_READ(d, d_parent);
		if (parent == d) {
			d = 0;
			p->exe_complete = 1;
			continue;
		}
		bpf_probe_read_kernel_str(p->exe[i], EXE_PART, BPF_CORE_READ(d, d_name.name));
		d = parent;
	}
	if (d && BPF_CORE_READ(d, d_parent) == d)
		p->exe_complete = 1; /* exactly EXE_DEPTH parts */
	bpf_map_update_elem(&procs, &p->tgid, p, BPF_ANY);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *task, int old_pid, void *bprm)
{
	record(task);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	if (BPF_CORE_READ(child, tgid) != BPF_CORE_READ(child, pid))
		return 0; /* a thread: its process is known already */
	record(child);
	return 0;
}
