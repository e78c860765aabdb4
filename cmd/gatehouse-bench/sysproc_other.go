//go:build !linux

package main

import "os/exec"

// setParentDeathSignal is Linux-only; elsewhere the bench's own helpers
// still exit when their stdin closes, but gatehouse may outlive a crashed
// bench.
func setParentDeathSignal(*exec.Cmd) {}
