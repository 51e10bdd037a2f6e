// Package check is the one path from a verified manifest and a root to a
// verdict: the SSH paths derived from the root, the first-boot seal,
// the comparison, first-boot handling, package drift and explanations.
// `driftd check`, the daemon's scans and its re-checks all run through it,
// so the verdict does not depend on how driftd is run.
package check
