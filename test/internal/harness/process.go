package harness

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// logTailBytes is how much of a server's log a failed test prints.
const logTailBytes = 16 << 10

// pollInterval is the pause between two readiness checks.
const pollInterval = 20 * time.Millisecond

// process is a server started by the harness, with its stdout and stderr
// written to one log file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string

	exited chan struct{} // closed once cmd.Wait has returned
	err    error         // cmd.Wait's result, read only after exited is closed
}

// startProcess runs path with args and env, writing its output to logPath.
// The child is killed if the test binary dies first.
func startProcess(name, path string, args, env []string, logPath string) (*process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating the %s log: %w", name, err)
	}
	// The child holds its own copy of the descriptor.
	defer logFile.Close()

	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = childAttributes()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}

	p := &process{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// running reports whether the process has not exited yet.
func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// exitStatus describes how an exited process ended, for messages.
func (p *process) exitStatus() string {
	if p.err == nil {
		return "exit status 0"
	}
	return p.err.Error()
}

// exitCode returns the exited process's exit code, or -1 when a signal
// ended it.
func (p *process) exitCode() int {
	return p.cmd.ProcessState.ExitCode()
}

// waitReady calls ready every pollInterval until it returns nil, the
// process exits, or timeout passes.
func (p *process) waitReady(timeout time.Duration, ready func() error) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()

	for {
		if !p.running() {
			return fmt.Errorf("%s exited before it was ready: %s", p.name, p.exitStatus())
		}
		lastErr := ready()
		if lastErr == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before it was ready: %s", p.name, p.exitStatus())
		case <-deadline.C:
			return fmt.Errorf("%s not ready after %v: %w", p.name, timeout, lastErr)
		case <-tick.C:
		}
	}
}

// stop sends sig and waits up to grace for the process to exit, then kills
// it. It reports whether the kill was needed. It is safe to call after the
// process has exited.
func (p *process) stop(sig os.Signal, grace time.Duration) (killed bool) {
	if !p.running() {
		return false
	}
	// An error here means the process exited in the meantime.
	_ = p.cmd.Process.Signal(sig)

	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.exited:
		return false
	case <-timer.C:
	}

	_ = p.cmd.Process.Kill()
	<-p.exited
	return true
}

// log returns the whole log file.
func (p *process) log() (string, error) {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return "", fmt.Errorf("reading the %s log: %w", p.name, err)
	}
	return string(data), nil
}

// logTail returns up to the last n bytes of the log file.
func (p *process) logTail(n int64) string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return fmt.Sprintf("(reading the %s log: %v)", p.name, err)
	}
	defer f.Close()

	info, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(reading the %s log: %v)", p.name, err)
	}
	offset := max(info.Size()-n, 0)
	data, err := io.ReadAll(io.NewSectionReader(f, offset, info.Size()-offset))
	if err != nil {
		return fmt.Sprintf("(reading the %s log: %v)", p.name, err)
	}
	if offset > 0 {
		return fmt.Sprintf("(first %d bytes left out)\n%s", offset, data)
	}
	return string(data)
}

// logTailOnFailure registers a cleanup that prints the end of the log when
// the test has failed. Register it before the cleanup that stops the
// process, so that it runs after it and shows the shutdown too.
func (p *process) logTailOnFailure(t testing.TB) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s log %s:\n%s", p.name, p.logPath, p.logTail(logTailBytes))
		}
	})
}

// addrInUse reports whether the log shows that the process could not bind
// its port, which happens when another process took the port between
// freePort and the bind.
func (p *process) addrInUse() bool {
	data, err := os.ReadFile(p.logPath)
	return err == nil && strings.Contains(string(data), "address already in use")
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Another process can take it before the caller binds it, so the callers
// retry the start when the log shows that.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// hostPort joins 127.0.0.1 and port.
func hostPort(port int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// dialable returns nil when a TCP connection to addr succeeds.
func dialable(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return conn.Close()
}
