package sshpaths

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"driftd/baseline"
)

func TestDerive(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/bash\n" +
			"app:x:1000:1000::/srv/app:/usr/sbin/nologin\n" +
			"# a comment\n" +
			"nohome:x:1001:1001::relative:/bin/sh\n",
		"etc/ssh/sshd_config": "# comment\n" +
			"Include conf.d/*.conf\n" +
			"AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/keys/%u\n" +
			"TrustedUserCAKeys=/opt/ca/user_ca.pub\n" +
			"HostKey /var/lib/sshkeys/host_ed25519_key\n" +
			"Match User app\n" +
			"    AuthorizedPrincipalsFile \"/etc/principals/%u\"\n" +
			"    AuthorizedKeysFile %h/keys/%U none\n",
		"etc/ssh/conf.d/10-revoked.conf": "revokedkeys /var/lib/revoked_keys\nHostCertificate /srv/certs/host-cert.pub\n",
	}
	for name, content := range files {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := Derive(root)
	want := []string{
		"/etc/hosts.equiv", "/etc/pam.d/sshd",
		"/etc/principals/app", "/etc/principals/root",
		"/etc/shosts.equiv", "/etc/ssh/**",
		"/opt/ca/user_ca.pub",
		"/root/.rhosts", "/root/.shosts", "/root/.ssh/**", "/root/keys/0",
		"/srv/app/.rhosts", "/srv/app/.shosts", "/srv/app/.ssh/**", "/srv/app/keys/1000",
		"/srv/certs/host-cert.pub",
		"/var/lib/revoked_keys", "/var/lib/sshkeys/host_ed25519_key",
	}
	if !slices.Equal(got, want) {
		t.Errorf("SSHPaths:\n got %q\nwant %q", got, want)
	}

	rules, err := baseline.CompileRules([]baseline.RuleConfig{{Paths: []string{"/**"}, Category: "system", Severity: "medium"}, {Paths: []string{"/srv/**"}, Ignore: true}})
	if err != nil {
		t.Fatal(err)
	}
	withSSH, err := rules.WithSSH(got)
	if err != nil {
		t.Fatal(err)
	}
	if withSSH.Digest() != rules.Digest() {
		t.Error("the derived SSH paths changed the rules digest: every check would warn that the rules differ")
	}
	for path, want := range map[string]string{
		"/srv/app/.ssh/authorized_keys": "ssh critical", // wins over the ignore
		"/srv/app/data":                 "ignored",
		"/etc/principals/app":           "ssh critical",
		"/usr/bin/ls":                   "system medium",
	} {
		r := withSSH.Match(path)
		got := r.Category + " " + r.Severity.String()
		if r.Ignore {
			got = "ignored"
		}
		if got != want {
			t.Errorf("%s: %s, want %s", path, got, want)
		}
	}
	if withSSH.CanPrune("/srv", withSSH.Match("/srv")) {
		t.Error("/srv is pruned though the SSH paths of /srv/app lie below it")
	}
}
