package main

// help is what a command's help says: its arguments after the name, a line,
// a description with its exit codes, and examples.
type help struct {
	args, short, long, example string
}

// docs holds each command's help, by path; man pages and completions are
// generated from the same definitions (driftd docs).
var docs = map[string]help{
	"keygen": {
		args:  " --out PREFIX",
		short: "Make a signing key pair for baselines",
		long: `Writes PREFIX.key (mode 0600: keep it off the images, in the build's
secret store) and PREFIX.pub (ship it in the image, at baseline.public_key).
An existing file is never overwritten.

Exit codes: 0 written, 2 an error.`,
		example: `  driftd keygen --out /secure/driftd`,
	},
	"bake": {
		args:  " --key K --out M [--root DIR] [--label k=v ...] [--hash sha256|blake3]",
		short: "Record a signed baseline of an image",
		long: `Walks the root (an image mounted or chrooted, or / at the end of an image
build), hashes every file in scope, reads the package databases, and writes
a signed manifest. Bake last: anything changed after it is drift on every
host of the image. A path that cannot be read in full fails the bake unless
--allow-unreadable accepts it. Contents are digested by SHA-256, or by
BLAKE3 with --hash blake3 (about twice as fast on large files); the manifest
names its hash, and every check of it uses the same.

Exit codes: 0 baked, 2 an error (a path unreadable, a bad key or config).`,
		example: `  driftd bake --root /mnt/image --key /secure/driftd.key \
    --out /mnt/image/etc/driftd/baseline.manifest --label image=web --label version=2026.12.04`,
	},
	"check": {
		args:  " [--root DIR] [--baseline M] [--pubkey P] [--state-dir D]",
		short: "Compare a root with its baseline, once",
		long: `Compares the host (or --root, an image or a container rootfs) with its
signed baseline: files, packages, SSH material. On a live host (root /, or
with --state-dir) it seals the first-boot paths and applies the replacement
policy as the daemon would; an image root has no first boot.

Exit codes: 0 clean, 1 drift, 2 could not verify (an unverified baseline, an
incomplete scan, a host not sealed yet whose first-boot paths changed, or an
error).`,
		example: `  driftd check
  driftd check --root /mnt/image --baseline /mnt/image/etc/driftd/baseline.manifest --format json
  driftd check --config /etc/driftd/driftd.toml --textfile /var/lib/prometheus/node-exporter/driftd.prom`,
	},
	"diff": {
		args:  " M1 M2",
		short: "What changed between two images' baselines",
		long: `Compares two manifests as a check would classify them (the config's
rules), on what a rebuild of the same content keeps, with each path's
package and whether a package change accounts for it.

Exit codes: 0 the images are the same, 1 they differ, 2 an error.`,
		example: `  driftd diff web-2026.11.27.manifest web-2026.12.04.manifest
  driftd diff old.manifest new.manifest --pubkey /etc/driftd/baseline.pub --format json`,
	},
	"show": {
		args:  " M",
		short: "Print a baseline, or its packages as an SBOM",
		long: `Prints a manifest's header and entries (verified when --pubkey is given), or
its package inventory as a CycloneDX 1.5 or SPDX 2.3 SBOM.

Exit codes: 0 shown, 2 an error.`,
		example: `  driftd show /etc/driftd/baseline.manifest
  driftd show /etc/driftd/baseline.manifest --sbom cyclonedx > sbom.json`,
	},
	"run": {
		args:  " [--root DIR] [--state-dir D] [--web.listen-address ADDR]",
		short: "The daemon: watch the host and report drift",
		long: `Runs until stopped: a first full check, then changes in real time and
periodic scans; metrics and /healthz on the network, the full view on a
root-only local socket. SIGHUP reloads, SIGUSR1 asks for a fast scan and
SIGUSR2 for a full one. One daemon per state dir.

Exit codes: 0 stopped, 2 could not start (a bad config, a port in use, a
state dir held by another driftd).`,
		example: `  driftd run --config /etc/driftd/driftd.toml`,
	},
	"status": {
		args:  " [--path PREFIX] [--category C] [--severity S]",
		short: "The running daemon's view",
		long: `Asks the daemon over its local socket (root only) for its findings, with
paths; --path, --category and --severity narrow them.

Exit codes: 0 clean, 1 drift, 2 anything else (starting, unsealed, not
verified, no daemon).`,
		example: `  driftd status
  driftd status --category ssh --format json
  driftd status --path /etc --severity high`,
	},
	"taint": {
		short: "The replacement latch: status, or clear",
		long: `A host with drift the policy names is tainted: marked for replacement,
until an operator clears it with a reason.`,
		example: `  driftd taint status
  driftd taint clear --reason "INC-4211: key rotated by the on-call, verified"`,
	},
	"taint status": {
		short: "Is the host marked for replacement, and why",
		long: `Reads the latch from the state dir: it answers when the daemon is down.

Exit codes: 0 not tainted, 1 tainted, 2 cannot tell.`,
		example: `  driftd taint status --format json`,
	},
	"taint clear": {
		args:  " --reason TEXT",
		short: "Clear the latch, for a reason the events record",
		long: `Clears the latch through the daemon when it runs (it undoes the marker and
logs taint_cleared with who asked), else in the state dir directly. Every
clear is counted: driftd_taint_clears_total.

Exit codes: 0 cleared (or not tainted), 2 an error.`,
		example: `  driftd taint clear --reason "replaced the instance's key by hand, audited"`,
	},
	"seal": {
		short: "Seal the first-boot paths now",
		long: `Records the first-boot paths as they are now; from then on they are
compared with this seal. A host is sealed once. With no daemon running, the
seal is written to the state dir directly, digested by the baseline's hash
(--baseline names the baseline when it is not at baseline.path).

Exit codes: 0 sealed, 2 an error (sealed already, no first-boot rules).`,
		example: `  driftd seal`,
	},
	"config": {
		short: "The config: the embedded default, or the layered result",
	},
	"config default": {
		short:   "Print the embedded default config",
		long:    `The packages install it as /etc/driftd/driftd.toml. Exit codes: 0, 2 an error.`,
		example: `  driftd config default > driftd.toml`,
	},
	"config show": {
		short: "Print the layered config, each value's file",
		long: `The embedded default, then --config, then its driftd.d/*.toml drop-ins in
lexical order, put together, each value and rule marked with where it came
from.

Exit codes: 0 shown, 2 an error (naming the file and line).`,
		example: `  driftd config show --config /etc/driftd/driftd.toml`,
	},
	"version": {
		short: "Print the version",
		long: `Prints driftd's version and the Go it was built with (as --version does).

Exit codes: 0.`,
	},
}
