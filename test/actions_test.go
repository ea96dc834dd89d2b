package test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/s3-batching-agent/s3-batching-agent/test/internal/harness"
)

// actionTimeout bounds one run of an example action.
const actionTimeout = 60 * time.Second

// agentPort returns the helper API port of the agent in st.
func agentPort(t *testing.T, st *stack) string {
	t.Helper()
	u, err := url.Parse(st.agent.HelperURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

// actionEnv returns the environment for an action run: the harness's child
// environment without any NODE_IP or AGENT_HOST from the test's own, then
// extra.
func actionEnv(extra ...string) []string {
	return harness.ChildEnv(append([]string{"NODE_IP", "AGENT_HOST", "AGENT_PORT"}, extra...)...)
}

// runAction runs program with args and env and decodes its standard output
// as JSON into v.
func runAction(t *testing.T, env []string, v any, program string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, program, args...)
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("running %s = %v\nstderr:\n%s", program, err, stderr.String())
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("%s output %q is not the action's JSON result: %v\nstderr:\n%s", program, out, err, stderr.String())
	}
}

// actionPath returns the path of a file under deploy/openwhisk.
func actionPath(t *testing.T, parts ...string) string {
	t.Helper()
	path := filepath.Join(append([]string{harness.ModuleRoot(t), "deploy", "openwhisk"}, parts...)...)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("example action %s: %v", path, err)
	}
	return path
}

// nodeResult is the Node.js action's result.
type nodeResult struct {
	Body        *string
	ContentType string
	Etag        string
	Error       *struct {
		StatusCode int
		Code       string
		Message    string
		RequestID  string `json:"requestId"`
	}
}

// nodeRunner runs the action's main with the parameters in argv[2] and
// prints what its promise resolves to.
const nodeRunner = `
const action = require(process.argv[1]);
action.main(JSON.parse(process.argv[2])).then(
  (result) => process.stdout.write(JSON.stringify(result)),
  (err) => { console.error(err); process.exit(1); });
`

func TestActionNodeHelper(t *testing.T) {
	t.Parallel()
	node, _ := harness.Node(t)
	action := actionPath(t, "nodejs-helper", "index.js")
	st := newStack(t, stackOptions{buckets: []string{"bkt"}})
	hello := st.s3.Put(t, "bkt", "hello.txt", []byte("hello from the agent\n"), "text/plain", nil)
	special := st.s3.Put(t, "bkt", "dir/ünï 1+1=2 & 100%.txt", []byte("grüße, 日本\n"), "text/plain; charset=utf-8", nil)
	port := agentPort(t, st)

	tests := []struct {
		name      string
		env       []string
		params    map[string]string
		wantBody  string
		wantType  string
		wantETag  string
		wantError string
		wantCode  int
	}{
		{
			name:     "plain key",
			env:      []string{"NODE_IP=127.0.0.1", "AGENT_PORT=" + port},
			params:   map[string]string{"bucket": "bkt", "key": "hello.txt"},
			wantBody: "hello from the agent\n", wantType: "text/plain", wantETag: hello.ETag,
		},
		{
			name:     "key with reserved and non-ASCII characters",
			env:      []string{"NODE_IP=127.0.0.1", "AGENT_PORT=" + port},
			params:   map[string]string{"bucket": "bkt", "key": "dir/ünï 1+1=2 & 100%.txt"},
			wantBody: "grüße, 日本\n", wantType: "text/plain; charset=utf-8", wantETag: special.ETag,
		},
		{
			name:     "AGENT_HOST without NODE_IP",
			env:      []string{"AGENT_HOST=127.0.0.1", "AGENT_PORT=" + port},
			params:   map[string]string{"bucket": "bkt", "key": "hello.txt"},
			wantBody: "hello from the agent\n", wantType: "text/plain", wantETag: hello.ETag,
		},
		{
			name:      "missing key",
			env:       []string{"NODE_IP=127.0.0.1", "AGENT_PORT=" + port},
			params:    map[string]string{"bucket": "bkt", "key": "nope.txt"},
			wantError: "NoSuchKey", wantCode: http.StatusNotFound,
		},
		{
			name:      "missing parameter",
			env:       []string{"NODE_IP=127.0.0.1", "AGENT_PORT=" + port},
			params:    map[string]string{"bucket": "bkt"},
			wantError: "InvalidArgument", wantCode: http.StatusBadRequest,
		},
		{
			name:      "agent not listening",
			env:       []string{"NODE_IP=127.0.0.1", "AGENT_PORT=" + strconv.Itoa(closedPort(t))},
			params:    map[string]string{"bucket": "bkt", "key": "hello.txt"},
			wantError: "AgentUnreachable", wantCode: http.StatusBadGateway,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params, err := json.Marshal(tt.params)
			if err != nil {
				t.Fatal(err)
			}
			var got nodeResult
			runAction(t, actionEnv(tt.env...), &got, node, "-e", nodeRunner, action, string(params))

			if tt.wantError != "" {
				if got.Error == nil {
					t.Fatalf("main(%s) = %+v, want an error %s", params, got, tt.wantError)
				}
				if got.Error.Code != tt.wantError {
					t.Errorf("main(%s) error code = %q, want %q", params, got.Error.Code, tt.wantError)
				}
				if got.Error.StatusCode != tt.wantCode {
					t.Errorf("main(%s) error statusCode = %d, want %d", params, got.Error.StatusCode, tt.wantCode)
				}
				if got.Error.Message == "" {
					t.Errorf("main(%s) error message is empty", params)
				}
				if got.Body != nil {
					t.Errorf("main(%s) has a body %q with the error, want none", params, *got.Body)
				}
				return
			}

			if got.Error != nil {
				t.Fatalf("main(%s) error = %+v, want the object", params, *got.Error)
			}
			if got.Body == nil || *got.Body != tt.wantBody {
				t.Errorf("main(%s) body = %v, want %q", params, got.Body, tt.wantBody)
			}
			if got.ContentType != tt.wantType {
				t.Errorf("main(%s) contentType = %q, want %q", params, got.ContentType, tt.wantType)
			}
			if got.Etag != tt.wantETag {
				t.Errorf("main(%s) etag = %q, want %q", params, got.Etag, tt.wantETag)
			}
		})
	}
}

// pythonResult is the Python action's result.
type pythonResult struct {
	Buckets                  []string
	Bucket                   string
	Keys                     []string
	Sizes                    map[string]int
	SHA256                   map[string]string `json:"sha256"`
	TotalBytes               int
	Truncated                bool
	NewestKey                string
	NewestLastModified       string
	NewestLastModifiedListed string
	Error                    *struct {
		StatusCode int
		Code       string
		Message    string
	}
}

// pythonRunner loads the action from the file in argv[1], calls main with
// the JSON parameters in argv[2] and prints the result as JSON.
const pythonRunner = `
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("python_helper_action", sys.argv[1])
action = importlib.util.module_from_spec(spec)
spec.loader.exec_module(action)
print(json.dumps(action.main(json.loads(sys.argv[2]))))
`

// runPythonAction runs the Python action with params against the agent on
// 127.0.0.1:port.
func runPythonAction(t *testing.T, port string, params map[string]string) pythonResult {
	t.Helper()
	python := harness.Python(t)
	action := actionPath(t, "python-helper", "__main__.py")
	args, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	var got pythonResult
	env := actionEnv("NODE_IP=127.0.0.1", "AGENT_PORT="+port)
	runAction(t, env, &got, python, "-c", pythonRunner, action, string(args))
	return got
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func TestActionPythonHelper(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{buckets: []string{"bkt", "other"}})
	objects := map[string][]byte{
		"a.txt":   []byte("first object\n"),
		"b/c.bin": randomBytes(t, 5000),
		"ünï.txt": []byte("grüße\n"),
	}
	for key, data := range objects {
		st.s3.Put(t, "bkt", key, data, "", nil)
	}
	// versitygw reports a file's modification time, to the second, as
	// LastModified. Distinct times make the newest object certain.
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	mtimes := map[string]time.Time{
		"a.txt":   base,
		"b/c.bin": base.Add(2 * time.Second),
		"ünï.txt": base.Add(time.Second),
	}
	for key, mtime := range mtimes {
		if err := os.Chtimes(filepath.Join(st.s3.DataDir, "bkt", filepath.FromSlash(key)), mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}

	got := runPythonAction(t, agentPort(t, st), map[string]string{"bucket": "bkt"})
	if got.Error != nil {
		t.Fatalf("main(bucket=bkt) error = %+v, want a summary", *got.Error)
	}

	want := pythonResult{
		Buckets:                  []string{"bkt", "other"},
		Bucket:                   "bkt",
		Keys:                     []string{"a.txt", "b/c.bin", "ünï.txt"},
		Sizes:                    map[string]int{},
		SHA256:                   map[string]string{},
		NewestKey:                "b/c.bin",
		NewestLastModified:       base.Add(2 * time.Second).UTC().Format("2006-01-02T15:04:05+00:00"),
		NewestLastModifiedListed: base.Add(2 * time.Second).UTC().Format(time.RFC3339),
	}
	for key, data := range objects {
		want.Sizes[key] = len(data)
		want.SHA256[key] = sha256Hex(data)
		want.TotalBytes += len(data)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("main(bucket=bkt) mismatch (-want +got):\n%s", diff)
	}

	missing := runPythonAction(t, agentPort(t, st), map[string]string{"bucket": "nobucket"})
	if missing.Error == nil || missing.Error.Code != "NoSuchBucket" || missing.Error.StatusCode != http.StatusNotFound {
		t.Errorf("main(bucket=nobucket) error = %+v, want NoSuchBucket with status 404", missing.Error)
	}
}

// TestActionPythonFractionalSeconds runs the Python action against the
// agent's local store, whose listings carry a file's modification time in
// milliseconds. The three objects are modified within one second, so only
// a parser that keeps fractional seconds finds the newest: with fractions
// dropped all three tie, and the first listed would win.
func TestActionPythonFractionalSeconds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "bkt"), 0o755); err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	files := []struct {
		key   string
		mtime time.Time
	}{
		{key: "1-whole-second", mtime: base},
		{key: "2-late", mtime: base.Add(500 * time.Millisecond)},
		{key: "3-early", mtime: base.Add(123 * time.Millisecond)},
	}
	for _, f := range files {
		path := filepath.Join(dir, "bkt", f.key)
		if err := os.WriteFile(path, []byte("data of "+f.key), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, f.mtime, f.mtime); err != nil {
			t.Fatal(err)
		}
	}
	st := startLocalStoreAgent(t, dir)

	var list listObjectsBody
	decodeJSON(t, "listObjects", st.get(t, helperQuery("/s3/listObjects", "bucket", "bkt")), &list)
	listed := map[string]string{}
	for _, c := range list.Contents {
		listed[c.Key] = c.LastModified
	}
	wantListed := map[string]string{
		"1-whole-second": base.UTC().Format("2006-01-02T15:04:05Z"),
		"2-late":         base.UTC().Format("2006-01-02T15:04:05") + ".5Z",
		"3-early":        base.UTC().Format("2006-01-02T15:04:05") + ".123Z",
	}
	if diff := cmp.Diff(wantListed, listed); diff != "" {
		t.Fatalf("agent LastModified values mismatch (-want +got), want both forms for the action:\n%s", diff)
	}

	got := runPythonAction(t, agentPort(t, st), map[string]string{"bucket": "bkt"})
	if got.Error != nil {
		t.Fatalf("main(bucket=bkt) error = %+v, want a summary", *got.Error)
	}
	if got.NewestKey != "2-late" {
		t.Errorf("main(bucket=bkt) newestKey = %q, want 2-late, the only object modified half a second later", got.NewestKey)
	}
	if want := base.UTC().Format("2006-01-02T15:04:05") + ".500000+00:00"; got.NewestLastModified != want {
		t.Errorf("main(bucket=bkt) newestLastModified = %q, want %q", got.NewestLastModified, want)
	}
	if diff := cmp.Diff([]string{"1-whole-second", "2-late", "3-early"}, got.Keys); diff != "" {
		t.Errorf("main(bucket=bkt) keys mismatch (-want +got):\n%s", diff)
	}
}

// parseRunner prints parse_last_modified's result, or "error: ...", for
// each argument after the action's path.
const parseRunner = `
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("python_helper_action", sys.argv[1])
action = importlib.util.module_from_spec(spec)
spec.loader.exec_module(action)
out = []
for value in sys.argv[2:]:
    try:
        out.append(action.parse_last_modified(value).isoformat())
    except ValueError as err:
        out.append("error: " + str(err))
print(json.dumps(out))
`

func TestActionPythonParseLastModified(t *testing.T) {
	t.Parallel()
	python := harness.Python(t)
	action := actionPath(t, "python-helper", "__main__.py")

	tests := []struct {
		name  string
		input string
		want  string
	}{
		{name: "whole seconds", input: "2026-01-02T03:04:05Z", want: "2026-01-02T03:04:05+00:00"},
		{name: "milliseconds", input: "2026-01-02T03:04:05.123Z", want: "2026-01-02T03:04:05.123000+00:00"},
		{name: "one digit", input: "2026-01-02T03:04:05.5Z", want: "2026-01-02T03:04:05.500000+00:00"},
		{name: "microseconds", input: "2026-01-02T03:04:05.123456Z", want: "2026-01-02T03:04:05.123456+00:00"},
		{name: "nanoseconds", input: "2026-01-02T03:04:05.123456789Z", want: "2026-01-02T03:04:05.123456+00:00"},
		{name: "offset", input: "2026-01-02T05:04:05+02:00", want: "2026-01-02T03:04:05+00:00"},
		{name: "space instead of T", input: "2026-01-02 03:04:05Z", want: "error"},
		{name: "dot without digits", input: "2026-01-02T03:04:05.Z", want: "error"},
		{name: "no zone", input: "2026-01-02T03:04:05", want: "error"},
	}
	args := []string{"-c", parseRunner, action}
	for _, tt := range tests {
		args = append(args, tt.input)
	}
	var got []string
	runAction(t, actionEnv(), &got, python, args...)
	if len(got) != len(tests) {
		t.Fatalf("parse_last_modified results = %d, want %d: %q", len(got), len(tests), got)
	}

	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == "error" {
				if !strings.HasPrefix(got[i], "error: ") {
					t.Errorf("parse_last_modified(%q) = %q, want a ValueError", tt.input, got[i])
				}
				return
			}
			if got[i] != tt.want {
				t.Errorf("parse_last_modified(%q) = %q, want %q", tt.input, got[i], tt.want)
			}
		})
	}
}
