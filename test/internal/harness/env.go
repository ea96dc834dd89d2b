package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Static credentials shared by the servers the harness starts: versitygw
// takes them as its root account and the agent gets them as its node
// credentials through the environment. They are test values that open
// nothing outside those processes.
const (
	AccessKey = "s3ba-test-access-key"
	SecretKey = "s3ba-test-secret-key-for-loopback-only"
	Region    = "us-east-1"
)

// RequireServers reports whether a missing server or client must fail a
// test instead of skipping it. It is true when S3BA_REQUIRE_SERVERS=1 or
// CI=true.
func RequireServers() bool {
	return os.Getenv("S3BA_REQUIRE_SERVERS") == "1" || os.Getenv("CI") == "true"
}

// Missing skips the test because something it needs is not installed, or
// fails it when RequireServers reports true.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if RequireServers() {
		t.Fatalf("%s; S3BA_REQUIRE_SERVERS=1 or CI=true makes this a failure (test/run.sh installs it)", msg)
		return
	}
	t.Skipf("%s; test/run.sh installs it", msg)
}

// Tool returns the path of the program named by the environment variable
// envVar when it is set, or else of the program name found on PATH. When
// neither is an executable it calls Missing.
func Tool(t testing.TB, envVar, name string) string {
	t.Helper()
	if path := os.Getenv(envVar); path != "" {
		found, err := exec.LookPath(path)
		if err != nil {
			Missing(t, "%s=%s is not an executable: %v", envVar, path, err)
		}
		return found
	}
	found, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s not found on PATH and %s is not set", name, envVar)
	}
	return found
}

// AWSCLI returns the AWS CLI named by S3BA_AWS_CLI, or aws from PATH, after
// checking that it is version 2. Version 1 (seen with aws-cli 1.45.11)
// presigns S3 URLs with signature version 2 unless its config file sets
// signature_version = s3v4, and versitygw rejects those.
func AWSCLI(t testing.TB) string {
	t.Helper()
	aws := Tool(t, "S3BA_AWS_CLI", "aws")
	version, err := awsCLIVersion(aws)
	if err != nil {
		Missing(t, "%s --version failed: %v", aws, err)
		return aws
	}
	if !strings.HasPrefix(version, "aws-cli/2.") {
		Missing(t, "%s is %s, want AWS CLI version 2 (Debian's awscli; set S3BA_AWS_CLI=/usr/bin/aws)", aws, version)
	}
	return aws
}

// awsCLIVersions caches the first word of `aws --version` by path, because
// the CLI takes about a second to start.
var awsCLIVersions sync.Map

// awsCLIVersion returns the first word of `path --version`, such as
// "aws-cli/2.9.19".
func awsCLIVersion(path string) (string, error) {
	if version, ok := awsCLIVersions.Load(path); ok {
		return version.(string), nil
	}
	out, err := exec.Command(path, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
	}
	fields := strings.Fields(string(out))
	if len(fields) == 0 {
		return "", errors.New("empty output")
	}
	awsCLIVersions.Store(path, fields[0])
	return fields[0], nil
}

// Python returns the Python interpreter named by S3BA_PYTHON, or python3
// from PATH, after checking that it can import every module in modules
// (for example "boto3", "requests").
func Python(t testing.TB, modules ...string) string {
	t.Helper()
	python := Tool(t, "S3BA_PYTHON", "python3")
	for _, module := range modules {
		cmd := exec.Command(python, "-c", "import "+module)
		if out, err := cmd.CombinedOutput(); err != nil {
			Missing(t, "%s cannot import %s: %v: %s", python, module, err, strings.TrimSpace(string(out)))
		}
	}
	return python
}

// Node returns the node binary and the test/node directory, whose
// node_modules holds the pinned @aws-sdk/client-s3 and
// @aws-sdk/s3-request-presigner. Scripts run with that directory as their
// working directory resolve those packages.
func Node(t testing.TB) (node, dir string) {
	t.Helper()
	node = Tool(t, "S3BA_NODE", "node")
	dir = filepath.Join(ModuleRoot(t), "test", "node")
	for _, pkg := range []string{"client-s3", "s3-request-presigner"} {
		manifest := filepath.Join(dir, "node_modules", "@aws-sdk", pkg, "package.json")
		if _, err := os.Stat(manifest); err != nil {
			Missing(t, "@aws-sdk/%s is not installed in %s (run npm ci there)", pkg, dir)
		}
	}
	return node, dir
}

// findModuleRoot locates the directory holding the main module's go.mod:
// `go env GOMOD` from the working directory, or else the nearest go.mod
// above it.
var findModuleRoot = sync.OnceValues(func() (string, error) {
	if out, err := exec.Command("go", "env", "GOMOD").Output(); err == nil {
		gomod := strings.TrimSpace(string(out))
		if gomod != "" && gomod != os.DevNull {
			return filepath.Dir(gomod), nil
		}
	}

	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding the module root: no go.mod in the working directory or above it")
		}
		dir = parent
	}
})

// ModuleRoot returns the directory that holds the repository's go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	root, err := findModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// ChildEnv returns the environment for a process that the harness starts.
// It is the test's own environment without any AWS_ variable, plus the
// static credentials, AWS_REGION, AWS_EC2_METADATA_DISABLED=true and
// AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE set to the null device, so
// that no credential lookup reads ~/.aws or calls the instance metadata
// address. Each entry of extra is applied in order: KEY=VALUE sets KEY, and
// a bare KEY removes it.
func ChildEnv(extra ...string) []string {
	vars := make(map[string]string)
	var order []string
	set := func(key, value string) {
		if _, ok := vars[key]; !ok {
			order = append(order, key)
		}
		vars[key] = value
	}

	for _, kv := range os.Environ() {
		key, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(key, "AWS_") {
			set(key, value)
		}
	}
	set("AWS_ACCESS_KEY_ID", AccessKey)
	set("AWS_SECRET_ACCESS_KEY", SecretKey)
	set("AWS_REGION", Region)
	set("AWS_EC2_METADATA_DISABLED", "true")
	set("AWS_CONFIG_FILE", os.DevNull)
	set("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)

	for _, kv := range extra {
		key, value, hasValue := strings.Cut(kv, "=")
		if !hasValue {
			delete(vars, key)
			continue
		}
		set(key, value)
	}

	env := make([]string, 0, len(vars))
	for _, key := range order {
		if value, ok := vars[key]; ok {
			env = append(env, key+"="+value)
		}
	}
	return env
}
