package sshpaths

import (
	"bufio"
	"os"
	"path"
	"path/filepath"
	"strings"

	"driftd/baseline"
)

// sshdConfig is where sshd reads its config, inside the root.
const sshdConfig = "/etc/ssh/sshd_config"

// Derive derives, from the users and the sshd config under root, the
// path patterns of SSH material that no fixed rule can name: each user's
// ~/.ssh, ~/.rhosts and ~/.shosts wherever the home is, and every file
// sshd_config points at (AuthorizedKeysFile, AuthorizedPrincipalsFile,
// TrustedUserCAKeys, RevokedKeys, HostKey, HostCertificate, Include).
// A user whose home does not exist yet still gets patterns: a new
// authorized_keys there is drift. Missing files are not errors; the
// result is sorted and without duplicates.
func Derive(root string) []string {
	users := readUsers(filepath.Join(root, "etc/passwd"))
	// The fixed SSH material, so that a config whose rules leave it out
	// still watches it.
	out := []string{"/etc/ssh/**", "/etc/pam.d/sshd", "/etc/hosts.equiv", "/etc/shosts.equiv"}
	for _, u := range users {
		out = append(out, path.Join(u.home, ".ssh")+"/**", path.Join(u.home, ".rhosts"), path.Join(u.home, ".shosts"))
	}
	seen := map[string]bool{}
	var walkConfig func(file string, depth int)
	walkConfig = func(file string, depth int) {
		if depth > 8 || seen[file] {
			return
		}
		seen[file] = true
		out = append(out, file)
		for _, d := range readSSHDirectives(filepath.Join(root, file)) {
			for _, arg := range d.args {
				if arg == "none" || arg == "" {
					continue
				}
				if d.key == "include" {
					if !strings.HasPrefix(arg, "/") {
						arg = path.Join("/etc/ssh", arg)
					}
					matches, _ := filepath.Glob(filepath.Join(root, arg))
					for _, m := range matches {
						if rel, err := filepath.Rel(root, m); err == nil {
							walkConfig("/"+filepath.ToSlash(rel), depth+1)
						}
					}
					out = append(out, globSafe(arg))
					continue
				}
				out = append(out, expandSSHPath(arg, d.perUser, users)...)
			}
		}
	}
	walkConfig(sshdConfig, 0)
	for i, p := range out {
		out[i] = path.Clean(p)
	}
	return baseline.CanonicalPatterns(out)
}

// user is a login account: its name and home.
type user struct{ name, uid, home string }

func readUsers(passwd string) []user {
	f, err := os.Open(passwd)
	if err != nil {
		return nil
	}
	defer f.Close()
	var users []user
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 7 || strings.HasPrefix(f[0], "#") || !strings.HasPrefix(f[5], "/") {
			continue
		}
		users = append(users, user{name: f[0], uid: f[2], home: f[5]})
	}
	return users
}

// sshDirective is one path-valued keyword of an sshd config.
type sshDirective struct {
	key     string
	args    []string
	perUser bool // relative paths are relative to each user's home
}

// sshPathKeywords are the sshd_config keywords whose values are files
// that decide who may log in or who the host is; the value says whether
// a relative path is taken from the user's home.
var sshPathKeywords = map[string]bool{
	"authorizedkeysfile": true, "authorizedprincipalsfile": true,
	"trustedusercakeys": false, "revokedkeys": false,
	"hostkey": false, "hostcertificate": false, "include": false,
}

// readSSHDirectives reads the path-valued directives of one sshd config
// file, Match blocks included (they apply to some logins, so their files
// count).
func readSSHDirectives(file string) []sshDirective {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var out []sshDirective
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		key, rest, _ := strings.Cut(line, " ")
		if k, v, ok := strings.Cut(key, "="); ok {
			key, rest = k, v+" "+rest
		}
		key = strings.ToLower(key)
		perUser, ok := sshPathKeywords[key]
		if !ok {
			continue
		}
		rest = strings.TrimLeft(strings.TrimSpace(rest), "= ")
		out = append(out, sshDirective{key: key, args: splitSSHArgs(rest), perUser: perUser})
	}
	return out
}

// splitSSHArgs splits a value on spaces, keeping double-quoted parts whole.
func splitSSHArgs(s string) []string {
	var args []string
	var cur strings.Builder
	quoted := false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case (r == ' ' || r == '\t') && !quoted:
			if cur.Len() > 0 {
				args = append(args, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		args = append(args, cur.String())
	}
	return args
}

// expandSSHPath turns an sshd path value into patterns: %h, %u and %U are
// filled in for each user (and a relative path is taken from each home,
// as sshd does for the per-user keywords); any other token becomes a
// wildcard.
func expandSSHPath(arg string, perUser bool, users []user) []string {
	needsUser := strings.Contains(arg, "%h") || strings.Contains(arg, "%u") || strings.Contains(arg, "%U") ||
		strings.HasPrefix(arg, "~") || (perUser && !strings.HasPrefix(arg, "/"))
	if !needsUser {
		if !strings.HasPrefix(arg, "/") {
			arg = path.Join("/etc/ssh", arg)
		}
		return []string{globSafe(expandTokens(arg, nil))}
	}
	var out []string
	for i := range users {
		u := &users[i]
		p := arg
		if strings.HasPrefix(p, "~/") {
			p = "%h" + p[1:]
		}
		if !strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "%h") {
			p = "%h/" + p
		}
		out = append(out, globSafe(expandTokens(p, u)))
	}
	return out
}

// expandTokens replaces sshd's % tokens; without a user, or for a token
// driftd cannot know, with a wildcard.
func expandTokens(p string, u *user) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != '%' || i+1 == len(p) {
			b.WriteByte(p[i])
			continue
		}
		i++
		switch {
		case p[i] == '%':
			b.WriteByte('%')
		case u != nil && p[i] == 'h':
			b.WriteString(u.home)
		case u != nil && p[i] == 'u':
			b.WriteString(u.name)
		case u != nil && p[i] == 'U':
			b.WriteString(u.uid)
		default:
			b.WriteString("\x00") // a wildcard, once the literal parts are escaped
		}
	}
	return b.String()
}

// globSafe makes a literal path (with NUL marking wildcards) a pattern:
// a literal * or ? cannot be escaped in driftd's globs, so it is kept as a
// wildcard, which matches the literal name too.
func globSafe(p string) string {
	return strings.ReplaceAll(p, "\x00", "*")
}
