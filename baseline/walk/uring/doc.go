// Package uring is the least of io_uring the walk needs: one ring per
// worker that reads a batch of small files, and closes them, in one system
// call instead of two per file. Where the kernel refuses io_uring (older
// than 5.6, kernel.io_uring_disabled, a seccomp profile), New fails and the
// walk reads with plain system calls.
package uring
