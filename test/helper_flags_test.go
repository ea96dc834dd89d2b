package test

import (
	"context"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/s3-batching-agent/s3-batching-agent/test/internal/harness"
)

// TestFlagsRejected runs the agent binary with invalid flags and checks
// that it exits with status 2 and names the flag on stderr.
func TestFlagsRejected(t *testing.T) {
	t.Parallel()
	bin := harness.AgentBinary(t)
	storeDir := t.TempDir()

	tests := []struct {
		name      string
		args      []string
		wantNames []string
	}{
		{name: "negative batch window", args: []string{"--batch-window=-1s"}, wantNames: []string{"--batch-window"}},
		{name: "batch window without unit", args: []string{"--batch-window=100"}, wantNames: []string{"batch-window"}},
		{name: "max batch size zero", args: []string{"--max-batch-size", "0"}, wantNames: []string{"--max-batch-size"}},
		{name: "endpoint not a URL", args: []string{"--endpoint", "not a url"}, wantNames: []string{"--endpoint"}},
		{name: "endpoint without scheme", args: []string{"--endpoint=127.0.0.1:7070"}, wantNames: []string{"--endpoint"}},
		{
			name:      "endpoint and local store",
			args:      []string{"--endpoint=http://127.0.0.1:7070", "--local-store=" + storeDir},
			wantNames: []string{"--local-store", "--endpoint"},
		},
		{name: "log format xml", args: []string{"--log-format=xml"}, wantNames: []string{"--log-format"}},
		{name: "unknown flag", args: []string{"--batch-size=10"}, wantNames: []string{"batch-size"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// A free loopback port, in case a flag is wrongly accepted
			// and the agent starts; the context then ends it.
			port := strconv.Itoa(closedPort(t))
			args := append([]string{"--bind=127.0.0.1", "--port=" + port, "--s3-port=0"}, tt.args...)
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Env = harness.ChildEnv()
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()

			var exitErr *exec.ExitError
			if !errors.As(err, &exitErr) {
				t.Fatalf("agent %q = %v, want exit status 2; stderr %s", tt.args, err, stderr.String())
			}
			if code := exitErr.ExitCode(); code != 2 {
				t.Errorf("agent %q exit status = %d, want 2; stderr %s", tt.args, code, stderr.String())
			}
			for _, name := range tt.wantNames {
				if !strings.Contains(stderr.String(), name) {
					t.Errorf("agent %q stderr does not name %s:\n%s", tt.args, name, stderr.String())
				}
			}
		})
	}
}
