package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
)

// agentStartTimeout bounds the wait for the agent's /health after start
// and for /ready, which needs one response from the local store.
const agentStartTimeout = 60 * time.Second

// TestProbePathsServedByAgent starts the real agent binary with the
// DaemonSet's args, on free loopback ports and the embedded local store,
// and checks that the liveness, readiness and Prometheus paths return 200
// and that SIGTERM stops it within terminationGracePeriodSeconds.
func TestProbePathsServedByAgent(t *testing.T) {
	ds := load[appsv1.DaemonSet](t, manifest("daemonset.yaml"))
	c := agentContainer(t, ds)
	parseAgentArgs(t, c)

	agent := startAgent(t, buildAgent(t), c.Args)

	paths := []struct {
		name string
		path string
	}{
		{name: "liveness probe", path: c.LivenessProbe.HTTPGet.Path},
		{name: "readiness probe", path: c.ReadinessProbe.HTTPGet.Path},
		{name: "prometheus.io/path", path: ds.Spec.Template.Annotations["prometheus.io/path"]},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			// Readiness returns 503 until the agent's first probe of the
			// store has a response, so the check waits past a 503.
			status, err := agent.waitForStatus(p.path, agentStartTimeout)
			if err != nil {
				t.Fatalf("GET %s: %v", p.path, err)
			}
			if status != http.StatusOK {
				t.Errorf("GET %s = %d, want 200", p.path, status)
			}
		})
	}

	grace := time.Duration(*ds.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
	code, err := agent.stop(grace)
	if err != nil {
		t.Fatalf("stopping the agent: %v\nlog:\n%s", err, agent.log())
	}
	if code != 0 {
		t.Errorf("agent exit status after SIGTERM = %d, want 0\nlog:\n%s", code, agent.log())
	}
}

// moduleRoot returns the agent module's directory, the parent of deploy/.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("module github.com/s3-batching-agent/s3-batching-agent\n")) {
		t.Fatalf("%s/go.mod is not the agent's module", root)
	}
	return root
}

// buildAgent compiles ./cmd/s3-batching-agent of the parent module into
// the test's temporary directory.
func buildAgent(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "s3-batching-agent")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/s3-batching-agent")
	cmd.Dir = moduleRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/s3-batching-agent: %v\n%s", err, out)
	}
	return bin
}

// agentProcess is a running agent binary.
type agentProcess struct {
	cmd       *exec.Cmd
	helperURL string
	logPath   string
	exited    chan struct{} // closed when cmd.Wait returns
	client    *http.Client
}

// startAgent runs bin with args followed by loopback overrides (--bind,
// free --port and --s3-port, --local-store on an empty directory), with
// static credentials and the instance metadata lookup off. The flag parser
// keeps the last value of a repeated flag. A start that loses its port to
// another process is retried.
func startAgent(t *testing.T, bin string, args []string) *agentProcess {
	t.Helper()
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	if err := os.Mkdir(store, 0o755); err != nil {
		t.Fatal(err)
	}

	const attempts = 3
	for attempt := 1; ; attempt++ {
		helperPort, s3Port := freePort(t), freePort(t)
		for s3Port == helperPort {
			s3Port = freePort(t)
		}
		full := append(slices.Clone(args),
			"--bind=127.0.0.1",
			"--port="+strconv.Itoa(helperPort),
			"--s3-port="+strconv.Itoa(s3Port),
			"--local-store="+store,
		)

		a := &agentProcess{
			helperURL: "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(helperPort)),
			logPath:   filepath.Join(dir, fmt.Sprintf("agent-%d.log", attempt)),
			exited:    make(chan struct{}),
			client:    &http.Client{Timeout: 5 * time.Second},
		}
		logFile, err := os.Create(a.logPath)
		if err != nil {
			t.Fatal(err)
		}
		a.cmd = exec.Command(bin, full...)
		a.cmd.Env = agentEnv()
		a.cmd.Stdout = logFile
		a.cmd.Stderr = logFile
		if err := a.cmd.Start(); err != nil {
			logFile.Close()
			t.Fatalf("starting %s: %v", bin, err)
		}
		logFile.Close()
		go func() {
			a.cmd.Wait()
			close(a.exited)
		}()
		t.Cleanup(func() {
			a.kill()
			if t.Failed() {
				t.Logf("agent log:\n%s", a.log())
			}
		})

		status, err := a.waitForStatus("/health", agentStartTimeout)
		if err == nil && status == http.StatusOK {
			return a
		}
		if err == nil {
			err = fmt.Errorf("GET /health = %d, want 200", status)
		}
		if attempt < attempts && a.hasExited() && strings.Contains(a.log(), "address already in use") {
			continue
		}
		t.Fatalf("starting the agent with %q: %v\nlog:\n%s", full, err, a.log())
	}
}

// agentEnv is the test's environment without AWS_ variables, plus static
// test credentials and settings that keep the SDK off ~/.aws and off the
// instance metadata address.
func agentEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"AWS_ACCESS_KEY_ID=deploy-test-access-key",
		"AWS_SECRET_ACCESS_KEY=deploy-test-secret-key",
		"AWS_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE="+os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
	)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (a *agentProcess) hasExited() bool {
	select {
	case <-a.exited:
		return true
	default:
		return false
	}
}

// waitForStatus sends GET path every 100ms while the agent refuses the
// connection or returns 503, and returns the first other status. It gives
// up when the agent exits or timeout passes.
func (a *agentProcess) waitForStatus(path string, timeout time.Duration) (int, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()

	status := 0
	var lastErr error
	for {
		resp, err := a.client.Get(a.helperURL + path)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			status, lastErr = resp.StatusCode, nil
			if status != http.StatusServiceUnavailable {
				return status, nil
			}
		} else {
			lastErr = err
		}

		select {
		case <-a.exited:
			return status, fmt.Errorf("agent exited: %v", a.cmd.ProcessState)
		case <-deadline.C:
			if lastErr == nil {
				lastErr = fmt.Errorf("status %d after %v", status, timeout)
			}
			return status, lastErr
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM and waits up to grace for the agent to exit, as the
// kubelet does before SIGKILL. It returns the exit status.
func (a *agentProcess) stop(grace time.Duration) (int, error) {
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return 0, err
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-a.exited:
		return a.cmd.ProcessState.ExitCode(), nil
	case <-timer.C:
		a.kill()
		return 0, fmt.Errorf("agent still running %v after SIGTERM; killed it", grace)
	}
}

func (a *agentProcess) kill() {
	if !a.hasExited() {
		_ = a.cmd.Process.Kill()
		<-a.exited
	}
}

func (a *agentProcess) log() string {
	data, err := os.ReadFile(a.logPath)
	if err != nil {
		return fmt.Sprintf("(reading %s: %v)", a.logPath, err)
	}
	return string(data)
}
