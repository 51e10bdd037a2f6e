// Package containers finds the running containers on the host and reports
// their drift against their images: each overlay root in the mount table
// is a container, its upper directory is what changed since it started,
// and its lower directories are the image. A Monitor discovers them, walks
// and watches each upper directory, and keeps each container's findings,
// events, metrics and replacement policy.
package containers
