// Package explain compares a root's package databases with the baseline's
// inventory and tells, for each file finding, which package owns the path
// and whether a package change accounts for the change, or nothing does.
package explain
