package test

import (
	"bytes"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/s3-batching-agent/s3-batching-agent/test/internal/harness"
)

// startLocalStoreAgent starts the agent with --local-store=dir and --debug
// in an environment without AWS credentials. AWS_EC2_METADATA_DISABLED
// stays true, so a credential lookup that wrongly fell through to the
// instance metadata service would fail instead of leaving this machine.
func startLocalStoreAgent(t *testing.T, dir string) *stack {
	t.Helper()
	agent := harness.StartAgent(t, harness.AgentOptions{
		Args: []string{"--s3-port=0", "--debug", "--local-store=" + dir},
		Env:  []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_EC2_METADATA_DISABLED=true"},
	})
	return &stack{agent: agent, client: newHTTPClient(t)}
}

// copyTree copies the directory src to dst, which must not exist.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatalf("copying %s to %s: %v", src, dst, err)
	}
}

// bucketFiles returns the objects that a local store serves from dir: every
// file below a top-level folder, keyed by bucket and key.
func bucketFiles(t *testing.T, dir string) map[[2]string][]byte {
	t.Helper()
	objects := map[[2]string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		bucketDir := filepath.Join(dir, e.Name())
		err := filepath.WalkDir(bucketDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, err := filepath.Rel(bucketDir, path)
			if err != nil {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			objects[[2]string{e.Name(), filepath.ToSlash(rel)}] = data
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return objects
}

func TestLocalStoreServesDemoStore(t *testing.T) {
	t.Parallel()
	demo := filepath.Join(harness.ModuleRoot(t), "deploy", "demo-store")
	dir := filepath.Join(t.TempDir(), "store")
	if _, err := os.Stat(demo); err == nil {
		copyTree(t, demo, dir)
	} else {
		// Without the demo folder, a store of the same shape.
		t.Logf("no %s (%v): using a store made by the test", demo, err)
		if err := os.MkdirAll(filepath.Join(dir, "demo", "data"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// One object of the test's own in every case.
	if err := os.WriteFile(filepath.Join(dir, "demo", "data", "from-test.txt"), []byte("written by the test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	objects := bucketFiles(t, dir)

	st := startLocalStoreAgent(t, dir)

	var buckets listBucketsBody
	decodeJSON(t, "listBuckets", st.get(t, "/s3/listBuckets"), &buckets)
	var names []string
	for _, b := range buckets.Buckets {
		names = append(names, b.Name)
	}
	if !slices.Contains(names, "demo") {
		t.Errorf("listBuckets names = %q, want demo among them", names)
	}

	for id, want := range objects {
		bucket, key := id[0], id[1]
		r := st.get(t, helperQuery("/s3/getObject", "bucket", bucket, "key", key))
		if r.status != http.StatusOK {
			t.Errorf("getObject(%s, %s) status = %d, want 200; body %s", bucket, key, r.status, r.body)
			continue
		}
		if !bytes.Equal(r.body, want) {
			t.Errorf("getObject(%s, %s) = %q, want the file's %q", bucket, key, r.body, want)
		}
	}

	var list listObjectsBody
	decodeJSON(t, "listObjects demo", st.get(t, helperQuery("/s3/listObjects", "bucket", "demo")), &list)
	var wantKeys []string
	for id := range objects {
		if id[0] == "demo" {
			wantKeys = append(wantKeys, id[1])
		}
	}
	slices.Sort(wantKeys)
	if diff := cmp.Diff(wantKeys, list.keys()); diff != "" {
		t.Errorf("listObjects demo keys mismatch (-want +got):\n%s", diff)
	}
}

func TestLocalStoreUsesStaticCredentials(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "bkt"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bkt", "k.txt"), []byte("local"), 0o644); err != nil {
		t.Fatal(err)
	}
	st := startLocalStoreAgent(t, dir)

	r := st.get(t, helperQuery("/s3/getObject", "bucket", "bkt", "key", "k.txt"))
	mustStatus(t, "getObject from the local store", r, http.StatusOK)
	if string(r.body) != "local" {
		t.Errorf("getObject from the local store = %q, want %q", r.body, "local")
	}

	var config struct {
		Credentials map[string]string `json:"credentials"`
		Upstream    map[string]string `json:"upstream"`
	}
	cfg := st.get(t, "/debug/config")
	decodeJSON(t, "GET /debug/config", cfg, &config)
	if got := config.Credentials["source"]; got != "StaticCredentials" {
		t.Errorf("/debug/config credentials source = %q, want StaticCredentials; body %s", got, cfg.body)
	}

	log := st.agent.Log(t)
	if !strings.Contains(log, "source:StaticCredentials") {
		t.Errorf("agent start-up log has no source:StaticCredentials, want the credential source named")
	}
	for _, text := range []string{"EC2RoleProvider", "ec2imds", "169.254.169.254", "failed to refresh cached credentials"} {
		if strings.Contains(log, text) || strings.Contains(string(cfg.body), text) {
			t.Errorf("agent log or /debug/config mentions %q, want no instance metadata lookup", text)
		}
	}
}
