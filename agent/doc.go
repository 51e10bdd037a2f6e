// Package agent is the driftd daemon and the configuration it runs on: the
// config file, its embedded default, and (as the daemon grows) lifecycle,
// watching and scheduling.
package agent
