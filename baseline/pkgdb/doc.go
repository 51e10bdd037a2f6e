// Package pkgdb reads the package databases under a root (dpkg, rpm, apk):
// the inventory, the file lists and digests each manager records, and
// which package owns each path. Only rpm's database is read through a
// command: its own tool.
package pkgdb
