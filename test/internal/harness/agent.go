package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const (
	// agentStartTimeout bounds the wait for GET /health to return 200.
	// A -race build starting while other test packages compile can take
	// seconds.
	agentStartTimeout = 60 * time.Second

	// agentStopGrace is how long Stop waits after SIGTERM before it kills
	// the agent: the agent's default --shutdown-timeout of 15s plus a margin.
	agentStopGrace = 25 * time.Second

	// raceReport is the line the race detector prints for each data race.
	raceReport = "WARNING: DATA RACE"
)

// AgentOptions configures StartAgent. The zero value starts the agent with
// the harness's flags only.
type AgentOptions struct {
	// Args are flags added after the harness's own --bind=127.0.0.1,
	// --port, --s3-port and --log-format=text. The flag package keeps the
	// last value of a repeated flag, so Args can override those, for
	// example --s3-port=0 to turn the S3 listener off.
	Args []string
	// Env entries change the environment from ChildEnv: KEY=VALUE sets KEY
	// and a bare KEY removes it.
	Env []string
}

// Agent is a running s3-batching-agent process listening on 127.0.0.1.
type Agent struct {
	// HelperURL is the helper API's base URL, http://127.0.0.1:PORT.
	HelperURL string
	// S3URL is the S3 listener's base URL, or empty when it is off.
	S3URL string
	// Args is the agent's full argument list.
	Args []string

	proc *process

	stopOnce sync.Once
	exitCode int // valid once stopOnce has run
}

// StartAgent starts the agent binary (see AgentBinary) on free ports of
// 127.0.0.1 with the environment from ChildEnv, and waits until GET /health
// returns 200 and the S3 listener, when on, accepts connections.
//
// t.Cleanup stops it with SIGTERM and fails the test when it had exited
// before, exits with a status other than 0, or has logged a data race (the
// agent is built with -race when the tests are). Its log is printed when the
// test fails.
func StartAgent(t testing.TB, opts AgentOptions) *Agent {
	t.Helper()
	bin := AgentBinary(t)
	dir := t.TempDir()

	for attempt := 1; ; attempt++ {
		ports, err := freePorts(2)
		if err != nil {
			t.Fatal(err)
		}
		args := []string{
			"--bind=127.0.0.1",
			"--port=" + strconv.Itoa(ports[0]),
			"--s3-port=" + strconv.Itoa(ports[1]),
			"--log-format=text",
		}
		args = append(args, opts.Args...)
		helperPort, s3Port, err := listenerPorts(args)
		if err != nil {
			t.Fatal(err)
		}

		logPath := filepath.Join(dir, fmt.Sprintf("agent-%d.log", attempt))
		proc, err := startProcess("agent", bin, args, ChildEnv(opts.Env...), logPath)
		if err != nil {
			t.Fatal(err)
		}
		a := &Agent{HelperURL: "http://" + hostPort(helperPort), Args: args, proc: proc}
		if s3Port != 0 {
			a.S3URL = "http://" + hostPort(s3Port)
		}
		proc.logTailOnFailure(t)
		t.Cleanup(func() { a.cleanup(t) })

		err = proc.waitReady(agentStartTimeout, func() error {
			if err := httpStatusOK(a.HelperURL + "/health"); err != nil {
				return err
			}
			if s3Port != 0 {
				return dialable(hostPort(s3Port))
			}
			return nil
		})
		if err == nil {
			return a
		}
		if !proc.running() {
			// The start failure is reported here, not again by the cleanup.
			a.stopOnce.Do(func() { a.exitCode = proc.exitCode() })
			if attempt < startAttempts && proc.addrInUse() {
				continue
			}
		}
		t.Fatalf("starting the agent with %q: %v", args, err)
	}
}

// cleanup stops the agent unless the test did, and fails the test for an
// early exit, a failed shutdown or a data race. A test that called Stop
// checks the exit status itself.
func (a *Agent) cleanup(t testing.TB) {
	t.Helper()
	a.stopOnce.Do(func() {
		if !a.proc.running() {
			a.exitCode = a.proc.exitCode()
			t.Errorf("agent exited during the test: %s", a.proc.exitStatus())
			return
		}
		a.exitCode = a.stopLocked(t)
		if a.exitCode != 0 {
			t.Errorf("agent ended with %s after SIGTERM, want exit status 0", a.proc.exitStatus())
		}
	})

	if log, err := a.proc.log(); err == nil && strings.Contains(log, raceReport) {
		t.Errorf("agent log reports a data race (%q)", raceReport)
	}
}

// Stop sends SIGTERM, waits up to 25s for the agent to exit, and returns
// its exit code, or -1 when a signal ended it. An agent still running after
// that is killed and the test fails. Later calls return the first result.
// Stop may run on any goroutine.
func (a *Agent) Stop(t testing.TB) int {
	t.Helper()
	a.stopOnce.Do(func() {
		a.exitCode = a.stopLocked(t)
	})
	return a.exitCode
}

// stopLocked stops the process; stopOnce serializes its callers.
func (a *Agent) stopLocked(t testing.TB) int {
	t.Helper()
	if a.proc.stop(syscall.SIGTERM, agentStopGrace) {
		t.Errorf("agent still running %v after SIGTERM; killed it", agentStopGrace)
	}
	return a.proc.exitCode()
}

// Signal sends sig to the agent process.
func (a *Agent) Signal(sig os.Signal) error {
	return a.proc.cmd.Process.Signal(sig)
}

// Running reports whether the agent process has not exited.
func (a *Agent) Running() bool {
	return a.proc.running()
}

// Log returns the agent's log so far.
func (a *Agent) Log(t testing.TB) string {
	t.Helper()
	log, err := a.proc.log()
	if err != nil {
		t.Fatal(err)
	}
	return log
}

// S3Client returns an S3 client for the agent's S3 listener; see
// NewS3Client. The test fails when the listener is off.
func (a *Agent) S3Client(t testing.TB, optFns ...func(*s3.Options)) *s3.Client {
	t.Helper()
	if a.S3URL == "" {
		t.Fatal("agent S3 listener is off (--s3-port=0)")
	}
	return NewS3Client(a.S3URL, optFns...)
}

// listenerPorts returns the values of the last --port and --s3-port flags in
// args.
func listenerPorts(args []string) (helper, s3 int, err error) {
	for _, name := range []string{"port", "s3-port"} {
		value, ok := lastFlagValue(args, name)
		if !ok {
			return 0, 0, fmt.Errorf("no --%s flag in %q", name, args)
		}
		port, err := strconv.Atoi(value)
		if err != nil || port < 0 || port > 65535 {
			return 0, 0, fmt.Errorf("invalid --%s value %q, want a port number", name, value)
		}
		if name == "port" {
			helper = port
		} else {
			s3 = port
		}
	}
	if helper == 0 {
		return 0, 0, fmt.Errorf("--port=0 in %q: the harness needs a fixed helper API port", args)
	}
	return helper, s3, nil
}

// lastFlagValue returns the value of the last occurrence of flag name in
// args, in any form the flag package accepts: -name=value, --name=value,
// -name value and --name value.
func lastFlagValue(args []string, name string) (value string, found bool) {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") {
			continue
		}
		flagName, flagValue, hasValue := strings.Cut(strings.TrimPrefix(arg[1:], "-"), "=")
		if flagName != name {
			continue
		}
		if hasValue {
			value, found = flagValue, true
			continue
		}
		if i+1 < len(args) {
			value, found = args[i+1], true
			i++
		}
	}
	return value, found
}

// freePorts returns n distinct free ports; see freePort.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for len(ports) < n {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		if !slices.Contains(ports, port) {
			ports = append(ports, port)
		}
	}
	return ports, nil
}
