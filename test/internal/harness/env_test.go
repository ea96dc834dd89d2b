package harness

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// recordingTB records Fatalf and Skipf instead of ending the test, so that
// tests can check which one a helper called.
type recordingTB struct {
	testing.TB
	fatal   string
	skipped string
}

func (r *recordingTB) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }
func (r *recordingTB) Skipf(format string, args ...any)  { r.skipped = fmt.Sprintf(format, args...) }

func TestMissingSkipsOrFails(t *testing.T) {
	tests := []struct {
		name      string
		require   string
		ci        string
		wantFatal bool
	}{
		{name: "local run skips", wantFatal: false},
		{name: "S3BA_REQUIRE_SERVERS=1 fails", require: "1", wantFatal: true},
		{name: "CI=true fails", ci: "true", wantFatal: true},
		{name: "CI=false skips", ci: "false", wantFatal: false},
		{name: "S3BA_REQUIRE_SERVERS=0 skips", require: "0", wantFatal: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("S3BA_REQUIRE_SERVERS", tt.require)
			t.Setenv("CI", tt.ci)
			rec := &recordingTB{TB: t}

			Missing(rec, "widget %d not installed", 3)

			if got := RequireServers(); got != tt.wantFatal {
				t.Errorf("RequireServers() = %v, want %v", got, tt.wantFatal)
			}
			called := rec.skipped
			if tt.wantFatal {
				called = rec.fatal
			}
			if !strings.Contains(called, "widget 3 not installed") {
				t.Errorf("Missing() fatal = %q, skipped = %q, want the message in the %s",
					rec.fatal, rec.skipped, map[bool]string{true: "fatal", false: "skip"}[tt.wantFatal])
			}
			if tt.wantFatal && rec.skipped != "" || !tt.wantFatal && rec.fatal != "" {
				t.Errorf("Missing() fatal = %q, skipped = %q, want only one of them", rec.fatal, rec.skipped)
			}
		})
	}
}

func TestToolFindsPrograms(t *testing.T) {
	t.Setenv("S3BA_REQUIRE_SERVERS", "")
	t.Setenv("CI", "")

	t.Run("variable names a program", func(t *testing.T) {
		t.Setenv("S3BA_TEST_TOOL", "/bin/sh")
		if got := Tool(t, "S3BA_TEST_TOOL", "no-such-program-s3ba"); got != "/bin/sh" {
			t.Errorf("Tool() = %q, want %q", got, "/bin/sh")
		}
	})
	t.Run("variable names a missing program", func(t *testing.T) {
		t.Setenv("S3BA_TEST_TOOL", "/no/such/program")
		rec := &recordingTB{TB: t}
		Tool(rec, "S3BA_TEST_TOOL", "sh")
		if rec.skipped == "" {
			t.Errorf("Tool() with a missing program did not skip")
		}
	})
	t.Run("program on PATH", func(t *testing.T) {
		t.Setenv("S3BA_TEST_TOOL", "")
		if got := Tool(t, "S3BA_TEST_TOOL", "sh"); !strings.HasSuffix(got, "/sh") {
			t.Errorf("Tool() = %q, want a path ending in /sh", got)
		}
	})
	t.Run("program not on PATH", func(t *testing.T) {
		t.Setenv("S3BA_TEST_TOOL", "")
		rec := &recordingTB{TB: t}
		Tool(rec, "S3BA_TEST_TOOL", "no-such-program-s3ba")
		if rec.skipped == "" {
			t.Errorf("Tool() with a program not on PATH did not skip")
		}
	})
}

func TestChildEnvIsolatesCredentials(t *testing.T) {
	t.Setenv("AWS_PROFILE", "production")
	t.Setenv("AWS_SESSION_TOKEN", "token-from-the-test-environment")
	t.Setenv("S3BA_KEPT", "kept")

	tests := []struct {
		name  string
		extra []string
		want  map[string]string // "" means absent
	}{
		{
			name: "defaults",
			want: map[string]string{
				"AWS_ACCESS_KEY_ID":           AccessKey,
				"AWS_SECRET_ACCESS_KEY":       SecretKey,
				"AWS_REGION":                  Region,
				"AWS_EC2_METADATA_DISABLED":   "true",
				"AWS_CONFIG_FILE":             os.DevNull,
				"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
				"AWS_PROFILE":                 "",
				"AWS_SESSION_TOKEN":           "",
				"S3BA_KEPT":                   "kept",
			},
		},
		{
			name:  "extra overrides and removes",
			extra: []string{"AWS_REGION=eu-west-1", "AWS_SECRET_ACCESS_KEY", "S3BA_ADDED=1"},
			want: map[string]string{
				"AWS_REGION":            "eu-west-1",
				"AWS_SECRET_ACCESS_KEY": "",
				"AWS_ACCESS_KEY_ID":     AccessKey,
				"S3BA_ADDED":            "1",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := ChildEnv(tt.extra...)

			got := make(map[string]string)
			seen := make(map[string]int)
			for _, kv := range env {
				key, value, _ := strings.Cut(kv, "=")
				seen[key]++
				if _, ok := tt.want[key]; ok {
					got[key] = value
				}
			}
			want := make(map[string]string)
			for key, value := range tt.want {
				if value != "" {
					want[key] = value
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ChildEnv(%q) mismatch (-want +got):\n%s", tt.extra, diff)
			}
			for key, n := range seen {
				if n > 1 {
					t.Errorf("ChildEnv(%q) has %s %d times, want once", tt.extra, key, n)
				}
			}
		})
	}
}

func TestModuleRootHoldsGoMod(t *testing.T) {
	root := ModuleRoot(t)
	data, err := os.ReadFile(root + "/go.mod")
	if err != nil {
		t.Fatalf("reading go.mod in ModuleRoot() = %q: %v", root, err)
	}
	lines := strings.Split(string(data), "\n")
	if !slices.Contains(lines, "module github.com/s3-batching-agent/s3-batching-agent") {
		t.Errorf("go.mod in ModuleRoot() = %q does not declare this module", root)
	}
}
