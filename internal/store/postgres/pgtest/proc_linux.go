package pgtest

import "syscall"

// sysProcAttr puts the child in its own process group (so the whole server
// can be killed at once), runs it as cred when set, and has the kernel kill
// it should this process die first.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Setpgid:    true,
		Credential: cred,
		// Set by Go after switching credentials, so it survives the switch.
		Pdeathsig: syscall.SIGKILL,
	}
}

// killGroup sends SIGKILL to the process group led by pid.
func killGroup(pid int) { _ = syscall.Kill(-pid, syscall.SIGKILL) }
