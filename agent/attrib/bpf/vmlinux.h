/* The few kernel types attrib.bpf.c reads, declared for CO-RE: libbpf
 * relocates each field access against the running kernel's BTF, so only
 * the names must match, not the layout. Regenerate nothing: add a field
 * here when the program reads a new one. */
#ifndef DRIFTD_VMLINUX_H
#define DRIFTD_VMLINUX_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef __u16 umode_t;
typedef __u32 dev_t;

typedef struct {
	__u32 val;
} kuid_t;

/* From include/uapi/linux/bpf.h: stable ABI. */
enum bpf_map_type {
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
};

enum {
	BPF_ANY = 0,
};

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct qstr {
	__u32 len;
	const unsigned char *name;
};

struct dentry {
	struct dentry *d_parent;
	struct qstr d_name;
};

struct path {
	struct dentry *dentry;
};

struct file {
	struct path f_path;
};

struct mm_struct {
	struct file *exe_file;
};

struct cred {
	kuid_t uid;
};

struct task_struct {
	int pid;
	int tgid;
	struct task_struct *real_parent;
	const struct cred *cred;
	struct mm_struct *mm;
	char comm[16];
	kuid_t loginuid;
	unsigned int sessionid;
};

#pragma clang attribute pop

#endif
