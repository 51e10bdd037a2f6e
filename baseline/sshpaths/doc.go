// Package sshpaths derives, from a root's users and its sshd config, the
// paths of SSH material no fixed rule can name: every user's ~/.ssh, and
// every file sshd_config points at.
package sshpaths
