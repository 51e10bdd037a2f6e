//go:build race

package main

// raceBuild makes the end-to-end tests' driftd a race-detecting build when
// the tests themselves run under the race detector, as make test runs them.
var raceBuild = []string{"-race"}
