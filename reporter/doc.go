// Package reporter renders results where they go: check reports in text
// and JSON, manifests for reading, the node_exporter textfile, and progress
// on a terminal.
package reporter
