package baseline

import "time"

// Actor is who made a change, as far as driftd could see it: the process
// that wrote, and the SSH login it ran under.
type Actor struct {
	PID      int
	Comm     string
	Exe      string // "" when unknown
	UID      int
	User     string // UID's name on the host, "" when it has none
	LoginUID int    // -1 when no login set it
	Session  int    // the audit session id; -1 when none
	// Ancestors are the pids of the writer's ancestors, parent first: how
	// a change is tied to the login whose sshd it descends from.
	Ancestors []int
	Login     *Login // nil when the change was not made under a known SSH login
}

// Login is one SSH login, as sshd logged it.
type Login struct {
	User    string
	From    string // the client's address
	Port    int    // the client's port
	Method  string // publickey, password, keyboard-interactive/pam, ...
	Key     string // the accepted key's fingerprint (SHA256:...), for a key
	SSHDPID int    // the session's sshd process
	Session int    // its audit session id; -1 when unknown
	TTY     string // "" for a session without a terminal
	Started time.Time
}
