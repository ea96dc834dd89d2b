package test

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/s3-batching-agent/s3-batching-agent/test/internal/harness"
)

// minio-go's functional test program (functional_tests.go, package main,
// build tag "mint") is the suite that MinIO's mint runs against S3
// servers. TestMinioFunctionalParity builds it from the module cache and
// runs it twice, straight against versitygw and through the agent's S3
// listener, and fails when a test that passed straight fails or is missing
// through the agent. The program itself is never copied into this
// repository: test/minio holds only the go.mod and go.sum that build it.
const (
	minioModule  = "github.com/minio/minio-go/v7"
	minioVersion = "v7.4.1"

	// minioRunTimeout bounds one run of the program. On a 2-core machine,
	// MINT_MODE=full took 11 to 25 s straight against versitygw and about
	// 70 s through an agent built with -race. Most of that is the agent's
	// 100 ms batch window on each read: with --batch-window=0 a run through
	// an agent built without -race took 15 s.
	minioRunTimeout = 5 * time.Minute

	// compatDocPath is the page S3BA_WRITE_COMPAT_DOC=1 rewrites, relative
	// to the module root.
	compatDocPath = "docs/compatibility.md"
)

// minioResult is one test of the functional program with its outcome.
type minioResult struct {
	// Name is the test's name without the "minio-go: " prefix.
	Name string
	// Status is PASS, FAIL or NA. A test that logged one FAIL line is
	// FAIL whatever else it logged.
	Status string
	// Message is the message and error of its first FAIL line.
	Message string
	// Duration is the longest duration its lines report; each line gives
	// the time since the test started.
	Duration time.Duration
}

// TestMinioFunctionalParity runs minio-go's functional tests straight
// against versitygw and through the agent, and fails for each test that
// passed straight but not through the agent. S3BA_MINT_MODE sets
// MINT_MODE (default full), and S3BA_WRITE_COMPAT_DOC=1 rewrites
// docs/compatibility.md from the two runs.
func TestMinioFunctionalParity(t *testing.T) {
	if testing.Short() {
		t.Skip("runs minio-go's functional test program twice; skipped with -short")
	}
	program := buildMinioFunctional(t)
	mode := os.Getenv("S3BA_MINT_MODE")
	if mode == "" {
		mode = "full"
	}

	// Each run gets its own versitygw, with versioning on so that the
	// versioning tests can run.
	direct := harness.StartVersitygw(t, harness.VersitygwOptions{Versioning: true})
	directStart := time.Now()
	directResults := runMinioFunctional(t, program, direct.Endpoint, mode)
	directTime := time.Since(directStart)

	upstream := harness.StartVersitygw(t, harness.VersitygwOptions{Versioning: true})
	agent := harness.StartAgent(t, harness.AgentOptions{Args: []string{"--endpoint=" + upstream.Endpoint}})
	agentStart := time.Now()
	agentResults := runMinioFunctional(t, program, agent.S3URL, mode)
	agentTime := time.Since(agentStart)
	t.Logf("MINT_MODE=%s: %d tests straight in %v, %d through the agent in %v",
		mode, len(directResults), directTime.Round(time.Second), len(agentResults), agentTime.Round(time.Second))

	logSlowest(t, "through the agent", agentResults)
	if len(directResults) == 0 {
		t.Fatal("the functional program reported no test straight against versitygw")
	}
	through := make(map[string]minioResult, len(agentResults))
	for _, r := range agentResults {
		through[r.Name] = r
	}
	for _, d := range directResults {
		if d.Status != "PASS" {
			continue
		}
		a, ok := through[d.Name]
		switch {
		case !ok:
			t.Errorf("%s passed against versitygw but did not run through the agent", d.Name)
		case a.Status != "PASS":
			t.Errorf("%s passed against versitygw but is %s through the agent: %s", d.Name, a.Status, a.Message)
		}
	}

	if os.Getenv("S3BA_WRITE_COMPAT_DOC") == "1" {
		doc := compatibilityDoc(mode, directResults, agentResults)
		path := filepath.Join(harness.ModuleRoot(t), compatDocPath)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatalf("writing %s: %v", path, err)
		}
		t.Logf("wrote %s", path)
	}
}

// buildMinioFunctional builds minio-go's functional test program from the
// module cache into a temporary directory and returns its path. The copy
// drops the "mint" build constraint: building the file in place with
// -tags mint fails, because the tag also adds it to package minio.
func buildMinioFunctional(t *testing.T) string {
	t.Helper()
	root := harness.ModuleRoot(t)
	moduleDir := minioModuleDir(t, root)

	source, err := os.ReadFile(filepath.Join(moduleDir, "functional_tests.go"))
	if err != nil {
		harness.Missing(t, "reading functional_tests.go of %s@%s: %v", minioModule, minioVersion, err)
	}
	source = bytes.Replace(source, []byte("//go:build mint\n"), nil, 1)

	dir := t.TempDir()
	files := map[string][]byte{"functional_tests.go": source}
	for _, name := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(root, "test", "minio", name))
		if err != nil {
			t.Fatalf("reading test/minio/%s: %v", name, err)
		}
		files[name] = data
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	program := filepath.Join(dir, "minio-functional")
	if runtime.GOOS == "windows" {
		program += ".exe"
	}
	cmd := exec.Command("go", "build", "-o", program, ".")
	cmd.Dir = dir
	// The module cache already holds every module test/minio/go.sum names,
	// because the root module requires the same minio-go; GOFLAGS from
	// the caller could turn on -mod=vendor, which has no vendor here.
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building minio-go's functional tests: %v\n%s", err, out)
	}
	return program
}

// minioModuleDir returns the module cache directory of minio-go at the
// version the root module requires, which must be minioVersion.
func minioModuleDir(t *testing.T, root string) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Version}} {{.Dir}}", minioModule)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", minioModule, err)
	}
	version, dir, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if version != minioVersion {
		t.Fatalf("the root module requires %s %s, want %s as test/minio/go.mod does; update both together", minioModule, version, minioVersion)
	}
	if dir == "" {
		harness.Missing(t, "%s@%s is not in the module cache (run go mod download)", minioModule, minioVersion)
	}
	return dir
}

// runMinioFunctional runs the program against endpoint, an http:// base
// URL, and returns one result per test in the order the tests first
// reported.
func runMinioFunctional(t *testing.T, program, endpoint, mode string) []minioResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), minioRunTimeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, program)
	cmd.Dir = t.TempDir()
	cmd.Env = harness.ChildEnv(
		"SERVER_ENDPOINT="+strings.TrimPrefix(endpoint, "http://"),
		"ACCESS_KEY="+harness.AccessKey,
		"SECRET_KEY="+harness.SecretKey,
		"ENABLE_HTTPS=0",
		// versitygw's posix backend has no KMS, so the SSE-S3 tests
		// would fail both ways and only cost time.
		"ENABLE_KMS=0",
		"MINT_MODE="+mode,
		// Without RUN_ON_FAIL the program panics at its first failure.
		"RUN_ON_FAIL=1",
		"MINT_DATA_DIR",
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("minio-go's functional tests against %s did not finish within %v; stderr:\n%s", endpoint, minioRunTimeout, lastBytes(stderr.String(), 4096))
	}
	if err != nil {
		t.Errorf("minio-go's functional tests against %s: %v; stderr:\n%s", endpoint, err, lastBytes(stderr.String(), 4096))
	}
	results, err := parseMinioResults(stdout.Bytes())
	if err != nil {
		t.Fatalf("reading the output of minio-go's functional tests against %s: %v", endpoint, err)
	}
	return results
}

// parseMinioResults reads the program's JSON lines. Lines without a test
// name, such as a bare log record, are skipped.
func parseMinioResults(out []byte) ([]minioResult, error) {
	var order []string
	byName := map[string]*minioResult{}
	scanner := bufio.NewScanner(bytes.NewReader(out))
	scanner.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for scanner.Scan() {
		line := scanner.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var record struct {
			Name       string `json:"name"`
			Status     string `json:"status"`
			Message    string `json:"message"`
			Error      string `json:"error"`
			DurationMS int64  `json:"duration"`
		}
		if err := json.Unmarshal(line, &record); err != nil {
			return nil, fmt.Errorf("line %q is not JSON: %w", lastBytes(string(line), 200), err)
		}
		name := strings.TrimPrefix(record.Name, "minio-go: ")
		if name == "" || record.Status == "" {
			continue
		}
		r, ok := byName[name]
		if !ok {
			r = &minioResult{Name: name, Status: record.Status}
			byName[name] = r
			order = append(order, name)
		}
		r.Duration = max(r.Duration, time.Duration(record.DurationMS)*time.Millisecond)
		switch {
		case record.Status == "FAIL" && r.Message == "":
			r.Status = "FAIL"
			r.Message = strings.TrimSpace(record.Message + ": " + record.Error)
		case record.Status == "PASS" && r.Status == "NA":
			r.Status = "PASS"
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, err
	}
	results := make([]minioResult, 0, len(order))
	for _, name := range order {
		results = append(results, *byName[name])
	}
	return results, nil
}

// logSlowest logs the five slowest tests of a run.
func logSlowest(t *testing.T, run string, results []minioResult) {
	t.Helper()
	sorted := slices.Clone(results)
	slices.SortFunc(sorted, func(a, b minioResult) int { return cmp.Compare(b.Duration, a.Duration) })
	for _, r := range sorted[:min(5, len(sorted))] {
		t.Logf("slowest %s: %s took %v (%s)", run, r.Name, r.Duration, r.Status)
	}
}

// compatibilityDoc renders docs/compatibility.md from the two runs.
func compatibilityDoc(mode string, direct, agent []minioResult) string {
	through := map[string]minioResult{}
	for _, r := range agent {
		through[r.Name] = r
	}
	count := func(results []minioResult, status string) int {
		n := 0
		for _, r := range results {
			if r.Status == status {
				n++
			}
		}
		return n
	}

	var regressions []string
	for _, d := range direct {
		if a := through[d.Name]; d.Status == "PASS" && a.Status != "PASS" {
			regressions = append(regressions, "`"+d.Name+"`")
		}
	}
	regressionText := "none"
	if len(regressions) > 0 {
		regressionText = strings.Join(regressions, ", ")
	}

	var b strings.Builder
	fmt.Fprintf(&b, `# S3 compatibility: minio-go functional tests

This page records one run of the functional test program that ships with
minio-go %s (functional_tests.go, the suite MinIO's mint runs), in
MINT_MODE=%s, made on %s with %s.

The program ran twice: straight against versitygw (the version
test/run.sh installs, posix backend, versioning on) and through the agent's
S3 listener in front of another versitygw of the same kind. The agent ran
with its default flags (trust mode, batching on), and the program with
ENABLE_HTTPS=0, ENABLE_KMS=0 and RUN_ON_FAIL=1, so the SSE-C tests (HTTPS
only) and the SSE-S3 tests (KMS) did not run.

Regenerate it with:

    S3BA_WRITE_COMPAT_DOC=1 go test -race -count=1 -run TestMinioFunctionalParity ./test/

TestMinioFunctionalParity fails when a test that passed straight fails, or
is missing, through the agent. A test that fails straight shows something
versitygw lacks and says nothing about the agent. Most tests that fail
straight and pass through the agent sign with signature V2, which versitygw
rejects: in trust mode the agent takes any client signature and re-signs
with SigV4. The last column gives the first failure message of a test.

Straight: %d PASS, %d FAIL, %d NA. Through the agent: %d PASS, %d FAIL, %d NA.
Passed straight but not through the agent: %s.

| Test | Straight against versitygw | Through the agent | First failure |
| --- | --- | --- | --- |
`, minioVersion, mode, time.Now().UTC().Format("2006-01-02"), runtime.Version(),
		count(direct, "PASS"), count(direct, "FAIL"), count(direct, "NA"),
		count(agent, "PASS"), count(agent, "FAIL"), count(agent, "NA"),
		regressionText)

	seen := map[string]bool{}
	for _, d := range direct {
		seen[d.Name] = true
		a, ok := through[d.Name]
		status := "did not run"
		if ok {
			status = a.Status
		}
		message := d.Message
		if message == "" {
			message = a.Message
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", d.Name, d.Status, status, tableCell(message))
	}
	for _, a := range agent {
		if !seen[a.Name] {
			fmt.Fprintf(&b, "| %s | did not run | %s | %s |\n", a.Name, a.Status, tableCell(a.Message))
		}
	}
	return b.String()
}

// tableCell shortens s to one line of at most 160 characters that a
// Markdown table cell can hold.
func tableCell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", "\\|")
	if runes := []rune(s); len(runes) > 160 {
		s = string(runes[:157]) + "..."
	}
	return s
}

// lastBytes returns the last n bytes of s.
func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
