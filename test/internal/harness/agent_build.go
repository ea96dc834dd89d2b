package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// agentPackage is the agent's main package, relative to the module root.
const agentPackage = "./cmd/s3-batching-agent"

// buildDirPrefix starts the name of the directory, under os.TempDir, that
// holds one test process's agent build; the process id follows it.
const buildDirPrefix = "s3ba-harness-"

// buildAgentOnce builds the agent at most once per test process.
var buildAgentOnce = sync.OnceValues(buildAgent)

// AgentBinary returns the path of the agent binary. S3BA_AGENT_BINARY names
// a prebuilt one. Without it, the first call in a test process builds
// ./cmd/s3-batching-agent of this module, with -race when the tests run with
// -race, and later calls reuse that build. A failed build fails every test
// that needs the agent.
func AgentBinary(t testing.TB) string {
	t.Helper()
	if path := os.Getenv("S3BA_AGENT_BINARY"); path != "" {
		return path
	}
	path, err := buildAgentOnce()
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// buildAgent runs go build into a directory named after this process, after
// removing the directories of test processes that have ended.
func buildAgent() (string, error) {
	root, err := findModuleRoot()
	if err != nil {
		return "", err
	}
	removeStaleBuildDirs()

	dir := filepath.Join(os.TempDir(), buildDirPrefix+strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating the agent build directory: %w", err)
	}
	bin := filepath.Join(dir, "s3-batching-agent")

	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, agentPackage)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the agent (go %s in %s): %w\n%s", strings.Join(args, " "), root, err, out)
	}
	return bin, nil
}

// removeStaleBuildDirs deletes the build directories of test processes that
// are no longer running. Nothing removes a process's own directory when it
// ends, so the next test process does.
func removeStaleBuildDirs() {
	matches, err := filepath.Glob(filepath.Join(os.TempDir(), buildDirPrefix+"*"))
	if err != nil {
		return
	}
	for _, dir := range matches {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(dir), buildDirPrefix))
		if err != nil || pid == os.Getpid() || processExists(pid) {
			continue
		}
		// Best effort: a directory that cannot be removed now is tried
		// again by the next test process.
		_ = os.RemoveAll(dir)
	}
}
