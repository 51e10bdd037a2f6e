// Package atomicfile writes files so that a reader sees the old content
// or the new, never a part, and a crash keeps one of them: written beside,
// synced, renamed into place, and the directory synced.
package atomicfile
