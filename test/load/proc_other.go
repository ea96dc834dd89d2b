//go:build !linux

package main

import (
	"errors"
	"runtime"
	"syscall"
)

// errNoProc is returned where a figure needs Linux's /proc.
var errNoProc = errors.New("peak RSS and CPU accounting need Linux's /proc")

func childAttributes() *syscall.SysProcAttr { return nil }

func procStatusBytes(int, string) (int64, error) { return 0, errNoProc }

func machineTicks() (busy, total int64, err error) { return 0, 0, errNoProc }

func processTicks(int) int64 { return 0 }

const clockTicksPerSecond = 100

type machine struct {
	CPUs      int
	CPUModel  string
	MemoryGiB float64
	Kernel    string
	GoVersion string
}

func describeMachine() machine {
	return machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
}
