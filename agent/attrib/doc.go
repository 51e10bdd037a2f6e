// Package attrib names who changed a path: the process (pid, comm, exe,
// uid), its audit login uid and session, and the chain of its ancestors,
// so the daemon can tie a change to the SSH login that made it.
//
// fanotify marks on the watched directories give each change's pid. The
// best backend the kernel allows names that pid: eBPF (a table of
// processes kept from their fork or exec, so a writer that exits at once is
// still named), else /proc alone (fanotify), else none; the daemon says
// which. Change detection does not depend on it: the watcher sees the change;
// attrib only says who made it.
package attrib
