// Package policy is the replace-never-repair policy: which drift marks a
// host for replacement, the latch that keeps the mark in the state dir,
// and its actions (the marker file and the hook). `driftd check` and the
// daemon share it, so a host is tainted the same way whichever runs.
package policy
