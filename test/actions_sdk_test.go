package test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
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

// These tests run the example OpenWhisk actions under deploy/openwhisk that
// use an S3 SDK (nodejs-sdk, python-sdk) or the requests library
// (python-requests) as plain programs, against the agent in front of
// versitygw on 127.0.0.1. Each action file runs on its own and prints its
// result as JSON.
//
// The actions sign with placeholder keys that versitygw would reject, so a
// read that succeeds went through the agent, which re-signed it.

// sdkActionTimeout bounds one run of an example action. The Python SDK
// action retries a refused connection for about 4 s before it gives up.
const sdkActionTimeout = 60 * time.Second

const sdkActionBucket = "actions"

// sdkActionError is the error result every example action returns.
type sdkActionError struct {
	StatusCode int    `json:"statusCode"`
	Code       string `json:"code"`
	Message    string `json:"message"`
	RequestID  string `json:"requestId"`
}

// sdkObject is an object the tests store and expect the actions to return.
type sdkObject struct {
	key         string
	data        []byte
	contentType string
	etag        string // set by the Put
}

// sdkActionStack is versitygw with seeded objects, a counter in front of it
// for injecting faults, and the agent, with both front doors, in front of
// the counter.
type sdkActionStack struct {
	s3         *harness.S3Server
	counter    *harness.Counter
	agent      *harness.Agent
	helperPort string
	s3Port     string
	objects    map[string]*sdkObject
}

// newSDKActionStack starts versitygw, stores the test objects in
// sdkActionBucket, and starts a counter and the agent with agentArgs after
// --endpoint.
func newSDKActionStack(t *testing.T, agentArgs ...string) *sdkActionStack {
	t.Helper()
	s3 := harness.Versitygw(t)
	s3.CreateBucket(t, sdkActionBucket)

	binary := make([]byte, 3000)
	for i := range binary {
		binary[i] = byte(i * 7) // includes bytes that are not valid UTF-8
	}
	objects := []*sdkObject{
		{key: "hello.txt", data: []byte("hello from the agent\n"), contentType: "text/plain"},
		{key: "dir/ünï 1+1=2 & 100%.txt", data: []byte("grüße, 日本\n"), contentType: "text/plain; charset=utf-8"},
		{key: "bin/blob.bin", data: binary, contentType: "application/octet-stream"},
		{key: "logs/a.log", data: []byte("a\n"), contentType: "text/plain"},
		{key: "logs/b.log", data: []byte("b\n"), contentType: "text/plain"},
		{key: "logs/c.log", data: []byte("c\n"), contentType: "text/plain"},
	}
	st := &sdkActionStack{s3: s3, objects: map[string]*sdkObject{}}
	for _, o := range objects {
		o.etag = s3.Put(t, sdkActionBucket, o.key, o.data, o.contentType, nil).ETag
		st.objects[o.key] = o
	}

	st.counter = harness.NewCounter(t, s3.Endpoint)
	args := append([]string{"--endpoint=" + st.counter.URL}, agentArgs...)
	st.agent = harness.StartAgent(t, harness.AgentOptions{Args: args})
	st.helperPort = urlPort(t, st.agent.HelperURL)
	st.s3Port = urlPort(t, st.agent.S3URL)
	return st
}

func urlPort(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

// sdkActionFile returns the path of a file under deploy/openwhisk.
func sdkActionFile(t *testing.T, parts ...string) string {
	t.Helper()
	path := filepath.Join(append([]string{harness.ModuleRoot(t), "deploy", "openwhisk"}, parts...)...)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("example action %s: %v", path, err)
	}
	return path
}

// sdkActionEnv returns an action's environment: the harness's child
// environment without the test's own agent settings, then extra.
func sdkActionEnv(extra ...string) []string {
	unset := []string{"NODE_IP", "AGENT_HOST", "AGENT_PORT", "AGENT_S3_PORT", "NODE_PATH"}
	return harness.ChildEnv(append(unset, extra...)...)
}

// runSDKAction runs program with args and env and decodes its standard
// output as JSON into v.
func runSDKAction(t *testing.T, env []string, v any, program string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), sdkActionTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, program, args...)
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("running %s %q = %v\nstderr:\n%s", program, args, err, stderr.String())
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("%s output %q is not the action's JSON result: %v\nstderr:\n%s", program, out, err, stderr.String())
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// sdkClosedPort returns a port on 127.0.0.1 that nothing listens on.
func sdkClosedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(port)
}

// checkActionError compares an action's error result with the expected
// code and status, and checks that its message is not empty.
func checkActionError(t *testing.T, call string, got, want *sdkActionError) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s returned no error, want %s (%d)", call, want.Code, want.StatusCode)
	}
	if got.Code != want.Code || got.StatusCode != want.StatusCode {
		t.Errorf("%s error = %s (%d), want %s (%d); message %q", call, got.Code, got.StatusCode, want.Code, want.StatusCode, got.Message)
	}
	if got.Message == "" {
		t.Errorf("%s error message is empty", call)
	}
}

// nodeSDKResult is the nodejs-sdk action's result.
type nodeSDKResult struct {
	Body          *string         `json:"body"`
	ContentType   string          `json:"contentType"`
	ETag          string          `json:"etag"`
	ContentLength int             `json:"contentLength"`
	Error         *sdkActionError `json:"error"`
}

// runNodeSDKAction runs deploy/openwhisk/nodejs-sdk/index.js with params,
// with test/node/node_modules (the pinned @aws-sdk/client-s3) on NODE_PATH.
func runNodeSDKAction(t *testing.T, env []string, params map[string]string) nodeSDKResult {
	t.Helper()
	node, dir := harness.Node(t)
	action := sdkActionFile(t, "nodejs-sdk", "index.js")
	env = append(env, "NODE_PATH="+filepath.Join(dir, "node_modules"), "NODE_NO_WARNINGS=1")
	var got nodeSDKResult
	runSDKAction(t, env, &got, node, action, mustJSON(t, params))
	return got
}

func TestActionNodeSDK(t *testing.T) {
	t.Parallel()
	harness.Node(t)
	st := newSDKActionStack(t)
	atNode := []string{"NODE_IP=127.0.0.1", "AGENT_S3_PORT=" + st.s3Port}

	text := func(key string) nodeSDKResult {
		o := st.objects[key]
		body := string(o.data)
		return nodeSDKResult{Body: &body, ContentType: o.contentType, ETag: o.etag, ContentLength: len(o.data)}
	}
	blob := st.objects["bin/blob.bin"]
	blobBase64 := base64.StdEncoding.EncodeToString(blob.data)

	tests := []struct {
		name      string
		env       []string
		params    map[string]string
		want      nodeSDKResult
		wantError *sdkActionError
	}{
		{
			name:   "plain key",
			env:    atNode,
			params: map[string]string{"bucket": sdkActionBucket, "key": "hello.txt"},
			want:   text("hello.txt"),
		},
		{
			name:   "key with reserved and non-ASCII characters",
			env:    atNode,
			params: map[string]string{"bucket": sdkActionBucket, "key": "dir/ünï 1+1=2 & 100%.txt"},
			want:   text("dir/ünï 1+1=2 & 100%.txt"),
		},
		{
			name:   "binary object as base64",
			env:    atNode,
			params: map[string]string{"bucket": sdkActionBucket, "key": "bin/blob.bin", "encoding": "base64"},
			want:   nodeSDKResult{Body: &blobBase64, ContentType: blob.contentType, ETag: blob.etag, ContentLength: len(blob.data)},
		},
		{
			name:   "AGENT_HOST without NODE_IP",
			env:    []string{"AGENT_HOST=127.0.0.1", "AGENT_S3_PORT=" + st.s3Port},
			params: map[string]string{"bucket": sdkActionBucket, "key": "hello.txt"},
			want:   text("hello.txt"),
		},
		{
			name:      "missing key",
			env:       atNode,
			params:    map[string]string{"bucket": sdkActionBucket, "key": "nope.txt"},
			wantError: &sdkActionError{StatusCode: http.StatusNotFound, Code: "NoSuchKey"},
		},
		{
			name:      "missing bucket",
			env:       atNode,
			params:    map[string]string{"bucket": "no-such-bucket", "key": "hello.txt"},
			wantError: &sdkActionError{StatusCode: http.StatusNotFound, Code: "NoSuchBucket"},
		},
		{
			name:      "missing parameter",
			env:       atNode,
			params:    map[string]string{"bucket": sdkActionBucket},
			wantError: &sdkActionError{StatusCode: http.StatusBadRequest, Code: "InvalidArgument"},
		},
		{
			name:      "unknown encoding",
			env:       atNode,
			params:    map[string]string{"bucket": sdkActionBucket, "key": "hello.txt", "encoding": "hex"},
			wantError: &sdkActionError{StatusCode: http.StatusBadRequest, Code: "InvalidArgument"},
		},
		{
			name:      "agent not listening",
			env:       []string{"NODE_IP=127.0.0.1", "AGENT_S3_PORT=" + sdkClosedPort(t)},
			params:    map[string]string{"bucket": sdkActionBucket, "key": "hello.txt"},
			wantError: &sdkActionError{StatusCode: http.StatusBadGateway, Code: "AgentUnreachable"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runNodeSDKAction(t, sdkActionEnv(tt.env...), tt.params)
			call := "main(" + mustJSON(t, tt.params) + ")"
			if tt.wantError != nil {
				checkActionError(t, call, got.Error, tt.wantError)
				if got.Body != nil {
					t.Errorf("%s has a body %q with the error, want none", call, *got.Body)
				}
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", call, diff)
			}
		})
	}
}

// pythonSDKResult is the result of the python-sdk and python-requests
// actions, which return the same fields.
type pythonSDKResult struct {
	Bucket        string          `json:"bucket"`
	Keys          []string        `json:"keys"`
	Truncated     bool            `json:"truncated"`
	Key           string          `json:"key"`
	Body          *string         `json:"body"`
	ContentType   string          `json:"contentType"`
	ETag          string          `json:"etag"`
	ContentLength int             `json:"contentLength"`
	Error         *sdkActionError `json:"error"`
}

// pythonAction is one of the Python example actions and how to reach the
// agent's front door it uses.
type pythonAction struct {
	name    string
	dir     string
	modules []string // modules the interpreter must have
	env     func(st *sdkActionStack) []string
}

var pythonActions = []pythonAction{
	{
		name:    "python-sdk",
		dir:     "python-sdk",
		modules: []string{"boto3"},
		env: func(st *sdkActionStack) []string {
			return []string{"NODE_IP=127.0.0.1", "AGENT_S3_PORT=" + st.s3Port}
		},
	},
	{
		name:    "python-requests",
		dir:     "python-requests",
		modules: []string{"requests"},
		env: func(st *sdkActionStack) []string {
			return []string{"NODE_IP=127.0.0.1", "AGENT_PORT=" + st.helperPort}
		},
	},
}

// runPythonSDKAction runs the action's __main__.py with params as a
// program, which prints main's result.
func runPythonSDKAction(t *testing.T, a pythonAction, env []string, params map[string]any) pythonSDKResult {
	t.Helper()
	python := harness.Python(t, a.modules...)
	action := sdkActionFile(t, a.dir, "__main__.py")
	var got pythonSDKResult
	runSDKAction(t, env, &got, python, action, mustJSON(t, params))
	return got
}

// TestActionPythonSDKAndRequests runs the same cases against the boto3
// action (S3 listener) and the requests action (helper API): both front
// doors must give the same result.
func TestActionPythonSDKAndRequests(t *testing.T) {
	t.Parallel()
	for _, a := range pythonActions {
		harness.Python(t, a.modules...)
	}
	st := newSDKActionStack(t)

	allKeys := []string{"bin/blob.bin", "dir/ünï 1+1=2 & 100%.txt", "hello.txt", "logs/a.log", "logs/b.log", "logs/c.log"}
	read := func(keys []string, truncated bool, key string, encoded bool) pythonSDKResult {
		o := st.objects[key]
		body := string(o.data)
		if encoded {
			body = base64.StdEncoding.EncodeToString(o.data)
		}
		return pythonSDKResult{
			Bucket: sdkActionBucket, Keys: keys, Truncated: truncated,
			Key: key, Body: &body, ContentType: o.contentType, ETag: o.etag, ContentLength: len(o.data),
		}
	}

	tests := []struct {
		name      string
		params    map[string]any
		want      pythonSDKResult
		wantError *sdkActionError
	}{
		{
			name:   "list and read",
			params: map[string]any{"bucket": sdkActionBucket, "key": "hello.txt"},
			want:   read(allKeys, false, "hello.txt", false),
		},
		{
			name:   "list only",
			params: map[string]any{"bucket": sdkActionBucket},
			want:   pythonSDKResult{Bucket: sdkActionBucket, Keys: allKeys},
		},
		{
			name:   "prefix and maxKeys",
			params: map[string]any{"bucket": sdkActionBucket, "prefix": "logs/", "maxKeys": 2},
			want:   pythonSDKResult{Bucket: sdkActionBucket, Keys: []string{"logs/a.log", "logs/b.log"}, Truncated: true},
		},
		{
			name:   "key with reserved and non-ASCII characters",
			params: map[string]any{"bucket": sdkActionBucket, "prefix": "dir/", "key": "dir/ünï 1+1=2 & 100%.txt"},
			want:   read([]string{"dir/ünï 1+1=2 & 100%.txt"}, false, "dir/ünï 1+1=2 & 100%.txt", false),
		},
		{
			name:   "binary object as base64",
			params: map[string]any{"bucket": sdkActionBucket, "prefix": "bin/", "key": "bin/blob.bin", "encoding": "base64"},
			want:   read([]string{"bin/blob.bin"}, false, "bin/blob.bin", true),
		},
		{
			name:      "missing key",
			params:    map[string]any{"bucket": sdkActionBucket, "key": "nope.txt"},
			wantError: &sdkActionError{StatusCode: http.StatusNotFound, Code: "NoSuchKey"},
		},
		{
			name:      "missing bucket",
			params:    map[string]any{"bucket": "no-such-bucket"},
			wantError: &sdkActionError{StatusCode: http.StatusNotFound, Code: "NoSuchBucket"},
		},
		{
			name:      "no bucket parameter",
			params:    map[string]any{"key": "hello.txt"},
			wantError: &sdkActionError{StatusCode: http.StatusBadRequest, Code: "InvalidArgument"},
		},
		{
			name:      "maxKeys out of range",
			params:    map[string]any{"bucket": sdkActionBucket, "maxKeys": 0},
			wantError: &sdkActionError{StatusCode: http.StatusBadRequest, Code: "InvalidArgument"},
		},
		{
			name:      "unknown encoding",
			params:    map[string]any{"bucket": sdkActionBucket, "key": "hello.txt", "encoding": "hex"},
			wantError: &sdkActionError{StatusCode: http.StatusBadRequest, Code: "InvalidArgument"},
		},
	}
	for _, a := range pythonActions {
		for _, tt := range tests {
			t.Run(a.name+"/"+tt.name, func(t *testing.T) {
				got := runPythonSDKAction(t, a, sdkActionEnv(a.env(st)...), tt.params)
				call := a.name + " main(" + mustJSON(t, tt.params) + ")"
				if tt.wantError != nil {
					checkActionError(t, call, got.Error, tt.wantError)
					return
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("%s mismatch (-want +got):\n%s", call, diff)
				}
			})
		}
	}

	t.Run("agent not listening", func(t *testing.T) {
		closed := sdkClosedPort(t)
		envs := map[string][]string{
			"python-sdk":      {"NODE_IP=127.0.0.1", "AGENT_S3_PORT=" + closed},
			"python-requests": {"NODE_IP=127.0.0.1", "AGENT_PORT=" + closed},
		}
		for _, a := range pythonActions {
			got := runPythonSDKAction(t, a, sdkActionEnv(envs[a.name]...), map[string]any{"bucket": sdkActionBucket})
			checkActionError(t, a.name+" main(bucket)", got.Error,
				&sdkActionError{StatusCode: http.StatusBadGateway, Code: "AgentUnreachable"})
		}
	})
}

// TestActionSDKClientKeys runs the SDK actions against an agent that
// verifies client signatures: keys bound as action parameters are
// accepted, the placeholder keys are not.
func TestActionSDKClientKeys(t *testing.T) {
	t.Parallel()
	harness.Node(t)
	python := pythonActions[0]
	harness.Python(t, python.modules...)

	credentials := filepath.Join(t.TempDir(), "clients.json")
	const accessKey, secretKey = "action-client-key", "action-client-secret"
	file := `{"clients": [{"accessKeyId": "` + accessKey + `", "secretAccessKey": "` + secretKey + `"}]}`
	if err := os.WriteFile(credentials, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	st := newSDKActionStack(t, "--client-auth=verify", "--client-credentials="+credentials)
	env := sdkActionEnv("NODE_IP=127.0.0.1", "AGENT_S3_PORT="+st.s3Port)
	hello := st.objects["hello.txt"]

	tests := []struct {
		name      string
		keys      map[string]string
		wantError *sdkActionError
	}{
		{name: "bound keys", keys: map[string]string{"accessKeyId": accessKey, "secretAccessKey": secretKey}},
		{name: "placeholder keys", wantError: &sdkActionError{StatusCode: http.StatusForbidden, Code: "InvalidAccessKeyId"}},
		{
			name:      "wrong secret",
			keys:      map[string]string{"accessKeyId": accessKey, "secretAccessKey": "not-the-secret"},
			wantError: &sdkActionError{StatusCode: http.StatusForbidden, Code: "SignatureDoesNotMatch"},
		},
	}
	for _, tt := range tests {
		t.Run("nodejs-sdk/"+tt.name, func(t *testing.T) {
			params := map[string]string{"bucket": sdkActionBucket, "key": hello.key}
			for k, v := range tt.keys {
				params[k] = v
			}
			got := runNodeSDKAction(t, env, params)
			if tt.wantError != nil {
				checkActionError(t, "main()", got.Error, tt.wantError)
				return
			}
			if got.Error != nil || got.Body == nil || *got.Body != string(hello.data) {
				t.Errorf("main() = %+v (error %+v), want the body %q", got, got.Error, hello.data)
			}
		})
		t.Run("python-sdk/"+tt.name, func(t *testing.T) {
			params := map[string]any{"bucket": sdkActionBucket, "key": hello.key}
			for k, v := range tt.keys {
				params[k] = v
			}
			got := runPythonSDKAction(t, python, env, params)
			if tt.wantError != nil {
				checkActionError(t, "main()", got.Error, tt.wantError)
				return
			}
			if got.Error != nil || got.Body == nil || *got.Body != string(hello.data) {
				t.Errorf("main() = %+v (error %+v), want the body %q", got, got.Error, hello.data)
			}
		})
	}
}

// The endpoint runners load the action file named by argv[1] and print, as
// a JSON array, the agent URL it computes for each environment in the JSON
// array argv[2]. The Python runner calls the function named by argv[3].
// Neither sends a request.
const (
	nodeEndpointRunner = `
const action = require(process.argv[1]);
const envs = JSON.parse(process.argv[2]);
process.stdout.write(JSON.stringify(envs.map((env) => action.agentEndpoint(env))));
`
	pythonEndpointRunner = `
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("example_action", sys.argv[1])
action = importlib.util.module_from_spec(spec)
spec.loader.exec_module(action)
fn = getattr(action, sys.argv[3])
print(json.dumps([fn(env) for env in json.loads(sys.argv[2])]))
`
)

// TestActionAgentEndpoint checks where each action sends its requests for
// the environments an action pod can have. The addresses are only
// formatted, never dialed.
func TestActionAgentEndpoint(t *testing.T) {
	t.Parallel()
	const service = "s3-batching-agent.s3-batching-agent.svc.cluster.local"

	tests := []struct {
		name string
		env  map[string]string
		// wantHost is host:port with PORT in place of the port, which the
		// loop below replaces with each action's default port.
		wantHost string
	}{
		{name: "NODE_IP", env: map[string]string{"NODE_IP": "192.0.2.10"}, wantHost: "192.0.2.10:PORT"},
		{name: "NODE_IP before AGENT_HOST", env: map[string]string{"NODE_IP": "192.0.2.10", "AGENT_HOST": "agent.example"}, wantHost: "192.0.2.10:PORT"},
		{name: "AGENT_HOST", env: map[string]string{"AGENT_HOST": "agent.example"}, wantHost: "agent.example:PORT"},
		{name: "empty NODE_IP", env: map[string]string{"NODE_IP": "", "AGENT_HOST": "agent.example"}, wantHost: "agent.example:PORT"},
		{name: "neither", env: map[string]string{}, wantHost: service + ":PORT"},
		{name: "IPv6 NODE_IP", env: map[string]string{"NODE_IP": "2001:db8::10"}, wantHost: "[2001:db8::10]:PORT"},
	}

	actions := []struct {
		name        string
		defaultPort string
		portVar     string
		run         func(t *testing.T, envs []map[string]string) []string
	}{
		{
			name: "nodejs-sdk", defaultPort: "9000", portVar: "AGENT_S3_PORT",
			run: func(t *testing.T, envs []map[string]string) []string {
				node, dir := harness.Node(t)
				action := sdkActionFile(t, "nodejs-sdk", "index.js")
				env := sdkActionEnv("NODE_PATH=" + filepath.Join(dir, "node_modules"))
				var got []string
				runSDKAction(t, env, &got, node, "-e", nodeEndpointRunner, action, mustJSON(t, envs))
				return got
			},
		},
		{
			name: "python-sdk", defaultPort: "9000", portVar: "AGENT_S3_PORT",
			run: func(t *testing.T, envs []map[string]string) []string {
				python := harness.Python(t, "boto3")
				action := sdkActionFile(t, "python-sdk", "__main__.py")
				var got []string
				runSDKAction(t, sdkActionEnv(), &got, python, "-c", pythonEndpointRunner, action, mustJSON(t, envs), "agent_endpoint")
				return got
			},
		},
		{
			name: "python-requests", defaultPort: "8080", portVar: "AGENT_PORT",
			run: func(t *testing.T, envs []map[string]string) []string {
				python := harness.Python(t, "requests")
				action := sdkActionFile(t, "python-requests", "__main__.py")
				var got []string
				runSDKAction(t, sdkActionEnv(), &got, python, "-c", pythonEndpointRunner, action, mustJSON(t, envs), "agent_base_url")
				return got
			},
		},
	}

	for _, a := range actions {
		t.Run(a.name, func(t *testing.T) {
			var envs []map[string]string
			var want []string
			for _, tt := range tests {
				envs = append(envs, tt.env)
				want = append(want, "http://"+strings.Replace(tt.wantHost, "PORT", a.defaultPort, 1))
			}
			// The port variable overrides the default.
			envs = append(envs, map[string]string{"NODE_IP": "192.0.2.10", a.portVar: "18000"})
			want = append(want, "http://192.0.2.10:18000")

			got := a.run(t, envs)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s endpoints mismatch (-want +got):\n%s", a.name, diff)
			}
		})
	}
}

// TestActionBodyCutShort cuts the upstream body of a 256 KiB object after
// 128 KiB. The agent has sent its response headers and part of the body by
// then, so each action gets a body shorter than its Content-Length and must
// report AgentResponseFailed rather than return the partial object or crash.
//
// NOTE: with the cut after 1000 bytes the agent closes the connection before
// sending any response, and the actions report AgentUnreachable instead.
func TestActionBodyCutShort(t *testing.T) {
	t.Parallel()
	harness.Node(t)
	for _, a := range pythonActions {
		harness.Python(t, a.modules...)
	}
	st := newSDKActionStack(t)

	const key = "big/cut.bin"
	data := make([]byte, 256<<10)
	for i := range data {
		data[i] = byte(i % 251)
	}
	st.s3.Put(t, sdkActionBucket, key, data, "application/octet-stream", nil)
	st.counter.Inject(t, harness.Fault{
		Match:     harness.MatchObject(http.MethodGet, sdkActionBucket, key),
		BodyAfter: 128 << 10,
		BodyCut:   true,
	})
	want := &sdkActionError{StatusCode: http.StatusBadGateway, Code: "AgentResponseFailed"}

	t.Run("nodejs-sdk", func(t *testing.T) {
		env := sdkActionEnv("NODE_IP=127.0.0.1", "AGENT_S3_PORT="+st.s3Port)
		got := runNodeSDKAction(t, env, map[string]string{"bucket": sdkActionBucket, "key": key, "encoding": "base64"})
		checkActionError(t, "main()", got.Error, want)
	})
	for _, a := range pythonActions {
		t.Run(a.name, func(t *testing.T) {
			params := map[string]any{"bucket": sdkActionBucket, "prefix": "big/", "key": key, "encoding": "base64"}
			got := runPythonSDKAction(t, a, sdkActionEnv(a.env(st)...), params)
			checkActionError(t, "main()", got.Error, want)
		})
	}
}
