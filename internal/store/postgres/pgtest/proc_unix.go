//go:build unix && !linux

package pgtest

import "syscall"

// sysProcAttr puts the child in its own process group (so the whole server
// can be killed at once) and runs it as cred when set. There is no
// parent-death signal here: a server outlives a test binary that crashes.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Credential: cred}
}

// killGroup sends SIGKILL to the process group led by pid.
func killGroup(pid int) { _ = syscall.Kill(-pid, syscall.SIGKILL) }

// children is not implemented here: only the server's process group is
// signalled.
func children(pid int) []int { return nil }
