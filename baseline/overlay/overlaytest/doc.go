// Package overlaytest makes overlayfs mounts for tests, as a container
// runtime does: an image tree the test builds as the lower layer, an empty
// upper layer, mounted for the test's life. It needs root and overlayfs.
package overlaytest
