package deploy

import (
	goversion "go/version"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
)

// TestDockerfileMatchesDaemonSet checks the image against the pod spec:
// the exposed ports, the numeric non-root user that runAsNonRoot needs, and
// a builder image new enough for go.mod.
func TestDockerfileMatchesDaemonSet(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	ds := load[appsv1.DaemonSet](t, manifest("daemonset.yaml"))
	cfg := parseAgentArgs(t, agentContainer(t, ds))

	var from, user, goVersion string
	var exposed []int
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "FROM":
			from = fields[1] // the last FROM is the final stage
		case "USER":
			user = fields[1]
		case "ARG":
			if value, ok := strings.CutPrefix(fields[1], "GO_VERSION="); ok {
				goVersion = value
			}
		case "EXPOSE":
			for _, f := range fields[1:] {
				port, err := strconv.Atoi(f)
				if err != nil {
					t.Fatalf("Dockerfile EXPOSE %q: %v", f, err)
				}
				exposed = append(exposed, port)
			}
		}
	}

	if from != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("final stage FROM %q, want gcr.io/distroless/static-debian12:nonroot", from)
	}
	if diff := cmp.Diff([]int{cfg.Port, cfg.S3Port}, exposed); diff != "" {
		t.Errorf("Dockerfile EXPOSE mismatch (-want +got):\n%s", diff)
	}

	uid, _, _ := strings.Cut(user, ":")
	runAsUser := ds.Spec.Template.Spec.SecurityContext.RunAsUser
	if runAsUser == nil || uid != strconv.FormatInt(*runAsUser, 10) {
		t.Errorf("Dockerfile USER %q, want the pod's runAsUser %v", user, runAsUser)
	}
	if uid == "0" || uid == "" {
		t.Errorf("Dockerfile USER %q, want a numeric non-root user", user)
	}

	goMod, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(goMod)
	if m == nil {
		t.Fatal("../go.mod has no go line")
	}
	if goversion.Compare("go"+goVersion, "go"+string(m[1])) < 0 {
		t.Errorf("Dockerfile GO_VERSION %q is older than go.mod's go %s; the golang image sets GOTOOLCHAIN=local, so the build would fail", goVersion, m[1])
	}
}
