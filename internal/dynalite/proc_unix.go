//go:build unix

package dynalite

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts the child in a process group of its own, so that Close reaches anything
// it spawns, and (on Linux) asks the kernel to kill it if the parent dies first.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setParentDeathSignal(cmd.SysProcAttr)
}

func terminate(cmd *exec.Cmd) { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }

func kill(cmd *exec.Cmd) { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
