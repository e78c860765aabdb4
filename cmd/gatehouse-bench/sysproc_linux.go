package main

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal makes the kernel SIGTERM the child if the bench dies
// without stopping it (a crash or SIGKILL), so no server outlives a run.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
