package attrib

// The eBPF object is committed, so a build needs Go alone; `make bpf`
// regenerates it with clang and libbpf's headers (Debian: clang, libbpf-dev).
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -tags linux -target bpfel -cc clang -cflags "-O2 -g -Wall -Werror" -type proc tracer bpf/attrib.bpf.c -- -I./bpf
