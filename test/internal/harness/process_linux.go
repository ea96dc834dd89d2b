package harness

import (
	"errors"
	"syscall"
)

// childAttributes makes the kernel kill a started server when the test
// binary dies, for example on a go test timeout, so that no server outlives
// the run and keeps its port.
//
// NOTE: Linux sends the signal when the thread that started the child ends,
// not the process. The Go runtime ends a thread only when a goroutine
// exits while locked to it with runtime.LockOSThread, which no test here
// does.
func childAttributes() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// processExists reports whether a process with this id is running.
func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
