package deploy

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/zoomtoken/zoomtoken/internal/config"
)

// decodeManifest decodes a manifest into its Kubernetes API type, refusing unknown fields.
func decodeManifest(tb testing.TB, path string, v any) {
	tb.Helper()
	if err := yaml.UnmarshalStrict(readFile(tb, "kubernetes/"+path), v); err != nil {
		tb.Fatalf("kubernetes/%s: %v", path, err)
	}
}

// kustomization is the part of kustomize's schema the file uses.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name   string `json:"name"`
		NewTag string `json:"newTag"`
	} `json:"images"`
}

func TestKubernetesManifests(t *testing.T) {
	var (
		dep    appsv1.Deployment
		svc    corev1.Service
		hpa    autoscalingv2.HorizontalPodAutoscaler
		pdb    policyv1.PodDisruptionBudget
		secret corev1.Secret
		kust   kustomization
	)
	decodeManifest(t, "deployment.yaml", &dep)
	decodeManifest(t, "service.yaml", &svc)
	decodeManifest(t, "hpa.yaml", &hpa)
	decodeManifest(t, "pdb.yaml", &pdb)
	decodeManifest(t, "secret.example.yaml", &secret)
	decodeManifest(t, "kustomization.yaml", &kust)

	if got := kust.Resources; !slices.Equal(got, []string{"deployment.yaml", "service.yaml", "hpa.yaml", "pdb.yaml"}) {
		t.Errorf("kustomization resources: %v (the Secret is applied separately, with real values)", got)
	}
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas < 2 {
		t.Errorf("replicas: want at least 2")
	}
	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]

	// Every variable the config reads is declared, in the Deployment or the Secret.
	var declared []string
	env := map[string]string{}
	for _, e := range c.Env {
		declared = append(declared, e.Name)
		env[e.Name] = e.Value
	}
	// Connected accounts on several replicas need one shared PostgreSQL: the Secret says so.
	if !strings.HasPrefix(secret.StringData["DATABASE_URL"], "REPLACE_WITH_postgres://") || secret.StringData["TOKEN_ENCRYPTION_KEYS"] == "" {
		t.Errorf("secret.example.yaml: DATABASE_URL %q, TOKEN_ENCRYPTION_KEYS %q", secret.StringData["DATABASE_URL"], secret.StringData["TOKEN_ENCRYPTION_KEYS"])
	}
	for k, v := range secret.StringData {
		declared = append(declared, k)
		if !strings.HasPrefix(v, "REPLACE_WITH_") {
			t.Errorf("secret.example.yaml: %s is not a placeholder", k)
		}
	}
	sameSet(t, "the Deployment and the Secret", declared, config.Variables())
	for _, name := range config.SecretVariables() {
		if _, inline := env[name]; inline {
			t.Errorf("secret %s is set inline in the Deployment", name)
		}
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != secret.Name {
		t.Errorf("credentials do not come from the %s Secret: %+v", secret.Name, c.EnvFrom)
	}

	// The port the service listens on is the port the probes and the Service use.
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || env["PORT"] != strconv.Itoa(int(c.Ports[0].ContainerPort)) {
		t.Errorf("container port %v, PORT %q", c.Ports, env["PORT"])
	}
	for name, want := range map[string]struct {
		probe *corev1.Probe
		path  string
	}{"readiness": {c.ReadinessProbe, "/readyz"}, "liveness": {c.LivenessProbe, "/healthz"}} {
		if p := want.probe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != want.path || p.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe: %+v", name, p)
		}
	}
	if svc.Spec.Ports[0].TargetPort.String() != "http" || svc.Spec.Selector["app.kubernetes.io/name"] != "zoomtoken" {
		t.Errorf("service: %+v", svc.Spec)
	}

	// Hardening.
	psc, sc := pod.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Errorf("pod is not runAsNonRoot")
	}
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container security context: %+v", sc)
	}
	if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() {
		t.Errorf("resources: %+v", c.Resources)
	}

	// The grace period covers the not-ready delay, the drain and any preStop pause.
	shutdown, err := time.ParseDuration(env["SHUTDOWN_TIMEOUT"])
	if err != nil {
		t.Fatalf("SHUTDOWN_TIMEOUT %q: %v", env["SHUTDOWN_TIMEOUT"], err)
	}
	delay, err := time.ParseDuration(env["SHUTDOWN_DELAY"])
	if err != nil || delay <= 0 {
		t.Errorf("SHUTDOWN_DELAY %q: the Service needs time to stop routing here (%v)", env["SHUTDOWN_DELAY"], err)
	}
	shutdown += delay
	var pause time.Duration
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		pause = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	}
	if grace := pod.TerminationGracePeriodSeconds; grace == nil || time.Duration(*grace)*time.Second <= shutdown+pause {
		t.Errorf("terminationGracePeriodSeconds does not exceed SHUTDOWN_TIMEOUT %v plus preStop %v", shutdown, pause)
	}

	if hpa.Spec.ScaleTargetRef.Kind != "Deployment" || hpa.Spec.ScaleTargetRef.Name != dep.Name ||
		hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 {
		t.Errorf("hpa: %+v", hpa.Spec)
	}
	if pdb.Spec.Selector.MatchLabels["app.kubernetes.io/name"] != dep.Spec.Template.Labels["app.kubernetes.io/name"] || pdb.Spec.MinAvailable == nil {
		t.Errorf("pdb: %+v", pdb.Spec)
	}
}
