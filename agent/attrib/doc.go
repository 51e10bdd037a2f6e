// Package attrib names who changed a path: the process (pid, comm, exe,
// uid), its audit login uid and session, and the chain of its ancestors,
// so the daemon can tie a change to the SSH login that made it.
//
// The best backend the kernel allows runs: eBPF (an fentry program on the
// kernel's fsnotify, reading the writer's task in its own context, so a
// writer that exits at once is still named), else none, and the daemon says
// so. Change detection does not depend on it: the watcher sees the change;
// attrib only says who made it.
package attrib
