// Package walk records the entries of a tree: a bounded pool of workers
// that stat, hash and read xattrs beneath a root without following links,
// in lexical order, handing each per-path failure to its entry; and the
// comparison of a walk with a baseline as it goes.
package walk
