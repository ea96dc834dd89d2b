package harness

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// requireAgentSource calls Missing while the agent's main package does not
// exist in this checkout.
func requireAgentSource(t *testing.T) {
	t.Helper()
	if os.Getenv("S3BA_AGENT_BINARY") != "" {
		return
	}
	if _, err := os.Stat(filepath.Join(ModuleRoot(t), agentPackage, "main.go")); err != nil {
		Missing(t, "agent source %s not found: %v", agentPackage, err)
	}
}

func TestAgentStartsAndStops(t *testing.T) {
	requireAgentSource(t)
	s := Versitygw(t)
	c := NewCounter(t, s.Endpoint)

	a := StartAgent(t, AgentOptions{Args: []string{"--endpoint=" + c.URL}})

	if a.S3URL == "" || a.S3URL == a.HelperURL {
		t.Errorf("StartAgent() S3URL = %q, HelperURL = %q, want two different listeners", a.S3URL, a.HelperURL)
	}
	resp, err := http.Get(a.HelperURL + "/health")
	if err != nil {
		t.Fatalf("GET /health = %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /health status = %d, want 200; body %q", resp.StatusCode, body)
	}

	if code := a.Stop(t); code != 0 {
		t.Errorf("Stop() = %d, want 0", code)
	}
	if a.Running() {
		t.Errorf("Running() after Stop = true, want false")
	}
	if code := a.Stop(t); code != 0 {
		t.Errorf("second Stop() = %d, want the first result 0", code)
	}
	if a.Log(t) == "" {
		t.Errorf("Log() after a start and stop is empty, want the agent's log lines")
	}
}

func TestAgentWithoutS3Listener(t *testing.T) {
	requireAgentSource(t)
	a := StartAgent(t, AgentOptions{Args: []string{"--s3-port=0", "--local-store=" + t.TempDir()}})

	if a.S3URL != "" {
		t.Errorf("StartAgent(--s3-port=0) S3URL = %q, want empty", a.S3URL)
	}
	if err := httpStatusOK(a.HelperURL + "/health"); err != nil {
		t.Errorf("GET /health: %v", err)
	}
}

func TestListenerPorts(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantHelper int
		wantS3     int
		wantErr    string
	}{
		{name: "harness defaults", args: []string{"--bind=127.0.0.1", "--port=8081", "--s3-port=9001"}, wantHelper: 8081, wantS3: 9001},
		{name: "later flag wins", args: []string{"--port=8081", "--s3-port=9001", "--s3-port=0"}, wantHelper: 8081, wantS3: 0},
		{name: "separate values", args: []string{"--port", "8081", "-s3-port", "9002", "--endpoint", "http://127.0.0.1:1"}, wantHelper: 8081, wantS3: 9002},
		{name: "single dash", args: []string{"-port=7000", "-s3-port=7001"}, wantHelper: 7000, wantS3: 7001},
		{name: "similar names ignored", args: []string{"--port=1", "--s3-port=2", "--s3-port-extra=3", "--portal=4"}, wantHelper: 1, wantS3: 2},
		{name: "missing s3 port", args: []string{"--port=1"}, wantErr: "no --s3-port flag"},
		{name: "invalid port", args: []string{"--port=http", "--s3-port=2"}, wantErr: "invalid --port value"},
		{name: "port out of range", args: []string{"--port=1", "--s3-port=70000"}, wantErr: "invalid --s3-port value"},
		{name: "helper port zero", args: []string{"--port=0", "--s3-port=2"}, wantErr: "--port=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			helper, s3, err := listenerPorts(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("listenerPorts(%q) error = %v, want one containing %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("listenerPorts(%q) = %v", tt.args, err)
			}
			if helper != tt.wantHelper || s3 != tt.wantS3 {
				t.Errorf("listenerPorts(%q) = %d, %d, want %d, %d", tt.args, helper, s3, tt.wantHelper, tt.wantS3)
			}
		})
	}
}

func TestFreePortsAreDistinct(t *testing.T) {
	ports, err := freePorts(5)
	if err != nil {
		t.Fatalf("freePorts(5) = %v", err)
	}
	seen := make(map[int]bool)
	for _, port := range ports {
		if port <= 0 || port > 65535 || seen[port] {
			t.Errorf("freePorts(5) = %v, want 5 distinct valid ports", ports)
			break
		}
		seen[port] = true
	}
}
