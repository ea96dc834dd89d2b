// Tests of the deployment files: the Kubernetes manifests decode strictly
// into their k8s.io/api types and agree with the agent's flag parser, with
// the routes the agent binary serves (probes_test.go) and with the
// Dockerfile (image_test.go). This is a module of its own so that
// k8s.io/api stays out of the agent binary's dependencies.
package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/s3-batching-agent/s3-batching-agent/cmd/s3-batching-agent/config"
)

const (
	kubernetesDir   = "kubernetes"
	networkPolicies = "kubernetes/examples/networkpolicy-openwhisk.yaml"

	// agentContainerName is the DaemonSet's container that runs the agent.
	agentContainerName = "agent"
)

// sdkCredentialEnv lists the environment variables that the AWS SDK's
// default chain reads for static credentials, and whether a Secret must
// carry each one.
var sdkCredentialEnv = map[string]bool{
	"AWS_ACCESS_KEY_ID":     true,
	"AWS_SECRET_ACCESS_KEY": true,
	"AWS_SESSION_TOKEN":     false,
}

// decodeStrict decodes one YAML document into out, rejecting duplicate
// keys, fields that out's type does not have, and trailing data.
func decodeStrict(data []byte, out any) error {
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return fmt.Errorf("converting YAML to JSON: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("decoding into %T: %w", out, err)
	}
	if dec.More() {
		return fmt.Errorf("decoding into %T: data after the first value", out)
	}
	return nil
}

// splitDocuments splits a multi-document YAML file on its "---" lines and
// drops documents that contain only comments and blank lines.
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	for _, doc := range regexp.MustCompile(`(?m)^---[ \t]*$`).Split(string(data), -1) {
		hasContent := false
		for _, line := range strings.Split(doc, "\n") {
			trimmed := strings.TrimSpace(line)
			if trimmed != "" && !strings.HasPrefix(trimmed, "#") {
				hasContent = true
				break
			}
		}
		if hasContent {
			docs = append(docs, []byte(doc))
		}
	}
	return docs
}

// load decodes the single-document manifest at path strictly into a T.
func load[T any](t *testing.T, path string) *T {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := new(T)
	if err := decodeStrict(data, out); err != nil {
		t.Fatalf("decodeStrict(%s) = %v, want nil", path, err)
	}
	return out
}

func manifest(name string) string {
	return filepath.Join(kubernetesDir, name)
}

// kustomization is the part of kustomization.yaml that these manifests use.
// Decoding it strictly makes any other field fail the test, so a field added
// to the file must be added here, with a check.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
	} `json:"images"`
}

func agentContainer(t *testing.T, ds *appsv1.DaemonSet) *corev1.Container {
	t.Helper()
	for i := range ds.Spec.Template.Spec.Containers {
		if c := &ds.Spec.Template.Spec.Containers[i]; c.Name == agentContainerName {
			return c
		}
	}
	t.Fatalf("DaemonSet %s has no container named %q", ds.Name, agentContainerName)
	return nil
}

// parseAgentArgs parses the container's args with the agent's own flag
// parser.
func parseAgentArgs(t *testing.T, c *corev1.Container) *config.Config {
	t.Helper()
	var output bytes.Buffer
	cfg, err := config.Parse(c.Args, &output)
	if err != nil {
		t.Fatalf("config.Parse(%q) = %v, want nil; output:\n%s", c.Args, err, output.String())
	}
	return cfg
}

// containerPort resolves a probe's or Service's port, by number or by the
// name of one of the container's ports, to a container port number.
func containerPort(c *corev1.Container, port intstr.IntOrString) (int, error) {
	if port.Type == intstr.Int {
		return port.IntValue(), nil
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return int(p.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("container %s has no port named %q", c.Name, port.StrVal)
}

func namedPort(t *testing.T, c *corev1.Container, name string) corev1.ContainerPort {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("container %s has no port named %q", c.Name, name)
	return corev1.ContainerPort{}
}

func TestManifestsDecodeStrictly(t *testing.T) {
	tests := []struct {
		name string
		file string
		into runtime.Object
		want schema.GroupVersionKind
	}{
		{name: "namespace", file: "namespace.yaml", into: &corev1.Namespace{}, want: corev1.SchemeGroupVersion.WithKind("Namespace")},
		{name: "serviceaccount", file: "serviceaccount.yaml", into: &corev1.ServiceAccount{}, want: corev1.SchemeGroupVersion.WithKind("ServiceAccount")},
		{name: "secret", file: "secret.yaml", into: &corev1.Secret{}, want: corev1.SchemeGroupVersion.WithKind("Secret")},
		{name: "daemonset", file: "daemonset.yaml", into: &appsv1.DaemonSet{}, want: appsv1.SchemeGroupVersion.WithKind("DaemonSet")},
		{name: "service", file: "service-local.yaml", into: &corev1.Service{}, want: corev1.SchemeGroupVersion.WithKind("Service")},
	}
	ns := load[corev1.Namespace](t, manifest("namespace.yaml"))

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := os.ReadFile(manifest(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if err := decodeStrict(data, tt.into); err != nil {
				t.Fatalf("decodeStrict(%s) = %v, want nil", tt.file, err)
			}
			if got := tt.into.GetObjectKind().GroupVersionKind(); got != tt.want {
				t.Errorf("%s kind = %v, want %v", tt.file, got, tt.want)
			}

			// Namespaced objects name the namespace themselves, so that
			// kubectl apply -f works as well as kubectl apply -k.
			meta := tt.into.(metav1.Object)
			if tt.name != "namespace" && meta.GetNamespace() != ns.Name {
				t.Errorf("%s namespace = %q, want %q", tt.file, meta.GetNamespace(), ns.Name)
			}
			if meta.GetName() == "" {
				t.Errorf("%s has no metadata.name", tt.file)
			}
		})
	}
}

func TestDecodeStrictRejectsMistakes(t *testing.T) {
	tests := []struct {
		name string
		yaml string
	}{
		{
			name: "misspelled field",
			yaml: "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  internalTraficPolicy: Local\n",
		},
		{
			name: "field at the wrong level",
			yaml: "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  selector:\n    app: x\n",
		},
		{
			name: "duplicate key",
			yaml: "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  name: y\n",
		},
		{
			name: "wrong type",
			yaml: "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports: 8080\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := decodeStrict([]byte(tt.yaml), &corev1.Service{}); err == nil {
				t.Errorf("decodeStrict(%q) = nil, want an error", tt.yaml)
			}
		})
	}
}

func TestSplitDocuments(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{name: "single document", in: "a: 1\n", want: []string{"a: 1\n"}},
		{name: "comment-only header", in: "# about\n---\na: 1\n---\nb: 2\n", want: []string{"\na: 1\n", "\nb: 2\n"}},
		{name: "empty documents", in: "---\n\n---\na: 1\n---\n", want: []string{"\na: 1\n"}},
		{name: "dashes inside a value", in: "a: x---y\n", want: []string{"a: x---y\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, doc := range splitDocuments([]byte(tt.in)) {
				got = append(got, string(doc))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("splitDocuments(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestKustomizationListsEveryManifest(t *testing.T) {
	k := load[kustomization](t, manifest("kustomization.yaml"))
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml is %s %s, want kustomize.config.k8s.io/v1beta1 Kustomization", k.APIVersion, k.Kind)
	}

	entries, err := os.ReadDir(kubernetesDir)
	if err != nil {
		t.Fatal(err)
	}
	var present []string
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.Type().IsRegular() && (ext == ".yaml" || ext == ".yml") && e.Name() != "kustomization.yaml" {
			present = append(present, e.Name())
		}
	}
	if diff := cmp.Diff(present, k.Resources, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("kustomization.yaml resources differ from the manifests in %s (-present +listed):\n%s", kubernetesDir, diff)
	}

	ns := load[corev1.Namespace](t, manifest("namespace.yaml"))
	if k.Namespace != ns.Name {
		t.Errorf("kustomization.yaml namespace = %q, want the Namespace's name %q", k.Namespace, ns.Name)
	}

	// The images transformer matches the image name without its tag, so
	// the entry applies only while it names the DaemonSet's image.
	ds := load[appsv1.DaemonSet](t, manifest("daemonset.yaml"))
	image := agentContainer(t, ds).Image
	name := image
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		name = image[:i]
	}
	if len(k.Images) != 1 || k.Images[0].Name != name {
		t.Errorf("kustomization.yaml images = %+v, want one entry named %q (the DaemonSet's image %q)", k.Images, name, image)
	}
}

func TestDaemonSetArgsAreAgentFlags(t *testing.T) {
	ds := load[appsv1.DaemonSet](t, manifest("daemonset.yaml"))
	c := agentContainer(t, ds)
	cfg := parseAgentArgs(t, c)

	// The settings an operator is expected to tune are spelled out, not
	// left to the agent's defaults.
	for _, flag := range []string{"port", "s3-port", "aws-region", "batch-window", "max-batch-size", "log-format", "shutdown-timeout"} {
		if !slices.ContainsFunc(c.Args, func(arg string) bool { return strings.HasPrefix(arg, "--"+flag+"=") }) {
			t.Errorf("args %q have no --%s=VALUE", c.Args, flag)
		}
	}
	if cfg.LogFormat != "json" {
		t.Errorf("--log-format = %q, want json", cfg.LogFormat)
	}
	if cfg.LocalStore != "" || cfg.Endpoint != nil || cfg.Debug {
		t.Errorf("args %q set --local-store, --endpoint or --debug; the DaemonSet targets AWS S3 without debug routes", c.Args)
	}
	if cfg.Bind != "" {
		t.Errorf("--bind = %q, want every interface so that hostPort and the Service reach the agent", cfg.Bind)
	}
}

func TestDaemonSetPortsMatchFlags(t *testing.T) {
	ds := load[appsv1.DaemonSet](t, manifest("daemonset.yaml"))
	c := agentContainer(t, ds)
	cfg := parseAgentArgs(t, c)

	ports := []struct {
		name string
		want int
	}{
		{name: "helper", want: cfg.Port},
		{name: "s3", want: cfg.S3Port},
	}
	for _, p := range ports {
		got := namedPort(t, c, p.name)
		if int(got.ContainerPort) != p.want || int(got.HostPort) != p.want {
			t.Errorf("port %s = containerPort %d hostPort %d, want %d for both", p.name, got.ContainerPort, got.HostPort, p.want)
		}
		if got.Protocol != corev1.ProtocolTCP {
			t.Errorf("port %s protocol = %q, want TCP", p.name, got.Protocol)
		}
	}

	probes := []struct {
		name  string
		probe *corev1.Probe
	}{
		{name: "liveness", probe: c.LivenessProbe},
		{name: "readiness", probe: c.ReadinessProbe},
	}
	for _, p := range probes {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s probe = %+v, want an httpGet probe", p.name, p.probe)
			continue
		}
		port, err := containerPort(c, p.probe.HTTPGet.Port)
		if err != nil {
			t.Errorf("%s probe port: %v", p.name, err)
		} else if port != cfg.Port {
			t.Errorf("%s probe port = %d, want the helper API's --port %d", p.name, port, cfg.Port)
		}
		if p.probe.HTTPGet.Scheme != "" && p.probe.HTTPGet.Scheme != corev1.URISchemeHTTP {
			t.Errorf("%s probe scheme = %q, want HTTP", p.name, p.probe.HTTPGet.Scheme)
		}
	}

	annotations := ds.Spec.Template.Annotations
	wantAnnotations := map[string]string{
		"prometheus.io/scrape": "true",
		"prometheus.io/port":   strconv.Itoa(cfg.Port),
		"prometheus.io/path":   "/metrics",
	}
	for key, want := range wantAnnotations {
		if got := annotations[key]; got != want {
			t.Errorf("pod annotation %s = %q, want %q", key, got, want)
		}
	}

	grace := ds.Spec.Template.Spec.TerminationGracePeriodSeconds
	if grace == nil {
		t.Errorf("terminationGracePeriodSeconds is not set, want more than --shutdown-timeout %v", cfg.ShutdownTimeout)
	} else if time.Duration(*grace)*time.Second <= cfg.ShutdownTimeout {
		t.Errorf("terminationGracePeriodSeconds = %d, want more than --shutdown-timeout %v", *grace, cfg.ShutdownTimeout)
	}
}

func TestServiceMatchesDaemonSet(t *testing.T) {
	ds := load[appsv1.DaemonSet](t, manifest("daemonset.yaml"))
	svc := load[corev1.Service](t, manifest("service-local.yaml"))
	c := agentContainer(t, ds)
	cfg := parseAgentArgs(t, c)

	if svc.Spec.InternalTrafficPolicy == nil || *svc.Spec.InternalTrafficPolicy != corev1.ServiceInternalTrafficPolicyLocal {
		t.Errorf("Service internalTrafficPolicy = %v, want Local", svc.Spec.InternalTrafficPolicy)
	}
	podLabels := ds.Spec.Template.Labels
	if len(svc.Spec.Selector) == 0 {
		t.Error("Service has no selector")
	}
	for key, value := range svc.Spec.Selector {
		if podLabels[key] != value {
			t.Errorf("Service selector %s=%s does not match the pod labels %v", key, value, podLabels)
		}
	}
	for key, value := range ds.Spec.Selector.MatchLabels {
		if podLabels[key] != value {
			t.Errorf("DaemonSet selector %s=%s does not match the pod labels %v", key, value, podLabels)
		}
	}

	// Actions use the same port numbers with the Service name as with the
	// node IP, so each Service port equals the container port behind it.
	var got []int
	for _, p := range svc.Spec.Ports {
		target, err := containerPort(c, p.TargetPort)
		if err != nil {
			t.Errorf("Service port %s: %v", p.Name, err)
			continue
		}
		if int(p.Port) != target {
			t.Errorf("Service port %s = %d, want the container port %d", p.Name, p.Port, target)
		}
		got = append(got, int(p.Port))
	}
	want := []int{cfg.Port, cfg.S3Port}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b int) bool { return a < b })); diff != "" {
		t.Errorf("Service ports mismatch (-want +got):\n%s", diff)
	}
}

func TestSecretHoldsSDKVariables(t *testing.T) {
	secret := load[corev1.Secret](t, manifest("secret.yaml"))
	if len(secret.Data) != 0 {
		t.Errorf("Secret has data keys %v, want stringData only", slices.Sorted(maps.Keys(secret.Data)))
	}
	for key, required := range sdkCredentialEnv {
		if _, ok := secret.StringData[key]; required && !ok {
			t.Errorf("Secret stringData has no %s", key)
		}
	}
	for key, value := range secret.StringData {
		if _, ok := sdkCredentialEnv[key]; !ok {
			t.Errorf("Secret stringData key %s is not a variable the AWS SDK's default chain reads", key)
		}
		if !strings.HasPrefix(value, "REPLACE_WITH_") {
			t.Errorf("Secret stringData %s = %q, want a REPLACE_WITH_ placeholder", key, value)
		}
	}

	// Every credential variable comes from the Secret under its own name
	// and is optional, so that pods start without the Secret (IRSA).
	ds := load[appsv1.DaemonSet](t, manifest("daemonset.yaml"))
	c := agentContainer(t, ds)
	var mapped []string
	for _, env := range c.Env {
		if env.ValueFrom == nil || env.ValueFrom.SecretKeyRef == nil {
			continue
		}
		ref := env.ValueFrom.SecretKeyRef
		if ref.Name != secret.Name || ref.Key != env.Name {
			t.Errorf("env %s = secret %s key %s, want secret %s key %s", env.Name, ref.Name, ref.Key, secret.Name, env.Name)
		}
		if ref.Optional == nil || !*ref.Optional {
			t.Errorf("env %s secretKeyRef optional = %v, want true", env.Name, ref.Optional)
		}
		mapped = append(mapped, env.Name)
	}
	slices.Sort(mapped)
	if diff := cmp.Diff(slices.Sorted(maps.Keys(sdkCredentialEnv)), mapped); diff != "" {
		t.Errorf("env variables from the Secret differ from the SDK's credential variables (-want +got):\n%s", diff)
	}
}

// TestSecretFeedsSDKDefaultChain sets the environment as the kubelet would
// from the DaemonSet and the Secret, and checks that the AWS SDK's default
// chain (the one the agent uses) returns the Secret's values.
func TestSecretFeedsSDKDefaultChain(t *testing.T) {
	shipped := load[corev1.Secret](t, manifest("secret.yaml"))
	withToken := shipped.DeepCopy()
	withToken.StringData["AWS_SESSION_TOKEN"] = "REPLACE_WITH_SESSION_TOKEN"

	tests := []struct {
		name   string
		secret *corev1.Secret
	}{
		{name: "as shipped", secret: shipped},
		{name: "with session token", secret: withToken},
	}
	ds := load[appsv1.DaemonSet](t, manifest("daemonset.yaml"))
	c := agentContainer(t, ds)

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateAWSEnv(t)
			for _, env := range c.Env {
				if env.ValueFrom == nil || env.ValueFrom.SecretKeyRef == nil {
					continue
				}
				ref := env.ValueFrom.SecretKeyRef
				value, ok := tt.secret.StringData[ref.Key]
				if !ok {
					if ref.Optional == nil || !*ref.Optional {
						t.Fatalf("env %s needs key %s, which the Secret lacks, and is not optional", env.Name, ref.Key)
					}
					continue
				}
				t.Setenv(env.Name, value)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion("us-east-1"))
			if err != nil {
				t.Fatalf("LoadDefaultConfig() = %v, want nil", err)
			}
			got, err := cfg.Credentials.Retrieve(ctx)
			if err != nil {
				t.Fatalf("Retrieve() = %v, want nil", err)
			}
			want := aws.Credentials{
				AccessKeyID:     tt.secret.StringData["AWS_ACCESS_KEY_ID"],
				SecretAccessKey: tt.secret.StringData["AWS_SECRET_ACCESS_KEY"],
				SessionToken:    tt.secret.StringData["AWS_SESSION_TOKEN"],
				Source:          "EnvConfigCredentials",
			}
			if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(aws.Credentials{}, "CanExpire", "Expires", "AccountID")); diff != "" {
				t.Errorf("Retrieve() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// isolateAWSEnv removes every AWS_ variable for the test and points the
// SDK away from ~/.aws and the instance metadata address.
func isolateAWSEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		key, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(key, "AWS_") {
			t.Setenv(key, "") // restores the value after the test
			os.Unsetenv(key)
		}
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
}

func TestDaemonSetHardening(t *testing.T) {
	ds := load[appsv1.DaemonSet](t, manifest("daemonset.yaml"))
	pod := ds.Spec.Template.Spec
	c := agentContainer(t, ds)

	deref := func(b *bool) any {
		if b == nil {
			return nil
		}
		return *b
	}
	podSC := pod.SecurityContext
	if podSC == nil {
		podSC = &corev1.PodSecurityContext{}
	}
	sc := c.SecurityContext
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	var seccomp any
	if podSC.SeccompProfile != nil {
		seccomp = podSC.SeccompProfile.Type
	}
	var capabilities any
	if sc.Capabilities != nil {
		capabilities = sc.Capabilities
	}

	tests := []struct {
		name string
		got  any
		want any
	}{
		{name: "pod runAsNonRoot", got: deref(podSC.RunAsNonRoot), want: true},
		{name: "container runAsNonRoot", got: deref(sc.RunAsNonRoot), want: true},
		{name: "pod seccompProfile", got: seccomp, want: corev1.SeccompProfileTypeRuntimeDefault},
		{name: "allowPrivilegeEscalation", got: deref(sc.AllowPrivilegeEscalation), want: false},
		{name: "readOnlyRootFilesystem", got: deref(sc.ReadOnlyRootFilesystem), want: true},
		{name: "capabilities", got: capabilities, want: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
		{name: "privileged", got: deref(sc.Privileged), want: nil},
		{name: "hostNetwork", got: pod.HostNetwork, want: false},
		{name: "update strategy", got: ds.Spec.UpdateStrategy.Type, want: appsv1.RollingUpdateDaemonSetStrategyType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", tt.name, diff)
			}
		})
	}

	t.Run("rolling update", func(t *testing.T) {
		ru := ds.Spec.UpdateStrategy.RollingUpdate
		if ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.String() != "1" {
			t.Fatalf("rollingUpdate = %+v, want maxUnavailable 1", ru)
		}
		// A surge pod would need the same hostPorts on the same node.
		if ru.MaxSurge != nil && ru.MaxSurge.String() != "0" {
			t.Errorf("rollingUpdate maxSurge = %s, want 0 with hostPorts", ru.MaxSurge.String())
		}
	})

	t.Run("tolerations", func(t *testing.T) {
		tolerateAll := slices.ContainsFunc(pod.Tolerations, func(tol corev1.Toleration) bool {
			return tol.Key == "" && tol.Operator == corev1.TolerationOpExists && tol.Effect == ""
		})
		if !tolerateAll {
			t.Errorf("tolerations = %+v, want one with operator Exists and no key or effect, so the agent runs on tainted invoker nodes", pod.Tolerations)
		}
	})

	t.Run("resources", func(t *testing.T) {
		for _, list := range []struct {
			name      string
			resources corev1.ResourceList
		}{
			{name: "requests", resources: c.Resources.Requests},
			{name: "limits", resources: c.Resources.Limits},
		} {
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if q, ok := list.resources[r]; !ok || q.IsZero() {
					t.Errorf("resources.%s.%s is not set", list.name, r)
				}
			}
		}
	})
}

// TestNetworkPolicyExample decodes the example NetworkPolicies, which
// kustomization.yaml does not apply, and checks that they select the
// agent's pods and ports.
func TestNetworkPolicyExample(t *testing.T) {
	data, err := os.ReadFile(networkPolicies)
	if err != nil {
		t.Fatal(err)
	}
	ds := load[appsv1.DaemonSet](t, manifest("daemonset.yaml"))
	cfg := parseAgentArgs(t, agentContainer(t, ds))
	agentPorts := []int{cfg.Port, cfg.S3Port}

	docs := splitDocuments(data)
	if len(docs) != 2 {
		t.Fatalf("%s has %d documents, want 2 (agent ingress, action egress)", networkPolicies, len(docs))
	}
	var policies []*networkingv1.NetworkPolicy
	for i, doc := range docs {
		np := &networkingv1.NetworkPolicy{}
		if err := decodeStrict(doc, np); err != nil {
			t.Fatalf("decodeStrict(%s document %d) = %v, want nil", networkPolicies, i+1, err)
		}
		if got, want := np.GroupVersionKind(), networkingv1.SchemeGroupVersion.WithKind("NetworkPolicy"); got != want {
			t.Errorf("document %d kind = %v, want %v", i+1, got, want)
		}
		policies = append(policies, np)
	}

	ingress := policies[0]
	if ingress.Namespace != ds.Namespace {
		t.Errorf("ingress policy namespace = %q, want the agent's %q", ingress.Namespace, ds.Namespace)
	}
	if diff := cmp.Diff(ds.Spec.Template.Labels, ingress.Spec.PodSelector.MatchLabels); diff != "" {
		t.Errorf("ingress policy podSelector differs from the agent's pod labels (-want +got):\n%s", diff)
	}
	if len(ingress.Spec.Ingress) == 0 {
		t.Fatal("ingress policy has no rules")
	}
	if diff := cmp.Diff(agentPorts, policyPorts(ingress.Spec.Ingress[0].Ports)); diff != "" {
		t.Errorf("ingress rule for actions ports mismatch (-want +got):\n%s", diff)
	}

	egress := policies[1]
	if got := egress.Spec.PodSelector.MatchLabels["user-action-pod"]; got != "true" {
		t.Errorf("egress policy selects user-action-pod=%q, want \"true\" (the label OpenWhisk puts on action pods)", got)
	}
	for i, rule := range egress.Spec.Egress[:2] {
		if diff := cmp.Diff(agentPorts, policyPorts(rule.Ports)); diff != "" {
			t.Errorf("egress rule %d ports mismatch (-want +got):\n%s", i+1, diff)
		}
	}
	if len(egress.Spec.Egress[0].To) == 0 || egress.Spec.Egress[0].To[0].PodSelector == nil {
		t.Fatal("egress rule 1 names no agent pods")
	}
	if diff := cmp.Diff(ds.Spec.Template.Labels, egress.Spec.Egress[0].To[0].PodSelector.MatchLabels); diff != "" {
		t.Errorf("egress rule 1 podSelector differs from the agent's pod labels (-want +got):\n%s", diff)
	}
}

func policyPorts(ports []networkingv1.NetworkPolicyPort) []int {
	var out []int
	for _, p := range ports {
		if p.Port != nil {
			out = append(out, p.Port.IntValue())
		}
	}
	return out
}
