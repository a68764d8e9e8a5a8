//go:build !linux

package rie

import (
	"errors"
	"os/exec"
)

func supported() error {
	return errors.New("rie: the AWS Lambda Runtime Interface Emulator runs on Linux only")
}

func setProcAttr(*exec.Cmd) {}

func terminate(cmd *exec.Cmd) { _ = cmd.Process.Kill() }

func killChildren(int) {}
