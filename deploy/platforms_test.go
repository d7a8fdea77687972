package deploy

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/zoomtoken/zoomtoken/internal/config"
)

// platformVariables are the variables a platform file must declare: all of them but PORT, which
// Heroku, Render and Railway set themselves (the service listens on it).
func platformVariables() []string {
	return slices.DeleteFunc(config.Variables(), func(v string) bool { return v == "PORT" })
}

func sameSet(tb testing.TB, what string, got, want []string) {
	tb.Helper()
	got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		tb.Errorf("%s declares %v, want exactly %v", what, got, want)
	}
}

func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// decodeJSONStrict decodes, refusing unknown (or misspelled) fields.
func decodeJSONStrict(tb testing.TB, path string, v any) {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(readFile(tb, path)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
}

// decodeYAMLStrict decodes, refusing unknown (or misspelled) fields.
func decodeYAMLStrict(tb testing.TB, path string, v any) {
	tb.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(readFile(tb, path)))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
}

// herokuApp is the part of Heroku's app.json schema the file uses.
type herokuApp struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Keywords    []string `json:"keywords"`
	Repository  string   `json:"repository"`
	SuccessURL  string   `json:"success_url"`
	Buildpacks  []struct {
		URL string `json:"url"`
	} `json:"buildpacks"`
	Formation map[string]struct {
		Quantity int    `json:"quantity"`
		Size     string `json:"size"`
	} `json:"formation"`
	Env map[string]struct {
		Description string `json:"description"`
		Required    bool   `json:"required"`
		Value       string `json:"value"`
		Generator   string `json:"generator"`
	} `json:"env"`
}

func TestHerokuAppJSON(t *testing.T) {
	var app herokuApp
	decodeJSONStrict(t, "../app.json", &app)
	sameSet(t, "app.json", slices.Collect(maps.Keys(app.Env)), platformVariables())
	for name, v := range app.Env {
		if v.Description == "" {
			t.Errorf("app.json: %s has no description", name)
		}
		if slices.Contains(config.SecretVariables(), name) && v.Value != "" {
			t.Errorf("app.json: secret %s has a value", name)
		}
	}
	if app.Env["CALLBACK_SECRETS"].Generator != "secret" {
		t.Errorf("app.json: CALLBACK_SECRETS is not generated")
	}
	if app.Formation["web"].Size != "eco" {
		t.Errorf("app.json: dyno size %q, not Eco (the cheapest the README names)", app.Formation["web"].Size)
	}
	if app.SuccessURL != "/healthz" || len(app.Buildpacks) != 1 || app.Buildpacks[0].URL != "heroku/go" {
		t.Errorf("app.json: success_url %q, buildpacks %v", app.SuccessURL, app.Buildpacks)
	}
	// Heroku runs the Procfile's web process with its own PORT; the binary reads PORT.
	if procfile := strings.TrimSpace(string(readFile(t, "../Procfile"))); procfile != "web: zoomtoken" {
		t.Errorf("Procfile: %q", procfile)
	}
	if !strings.Contains(string(readFile(t, "../go.mod")), "// +heroku install ./cmd/zoomtoken\n") {
		t.Errorf("go.mod does not tell Heroku's Go buildpack to install ./cmd/zoomtoken")
	}
}

// renderBlueprint is the part of Render's blueprint schema the file uses.
type renderBlueprint struct {
	Services []struct {
		Type            string `yaml:"type"`
		Name            string `yaml:"name"`
		Runtime         string `yaml:"runtime"`
		DockerfilePath  string `yaml:"dockerfilePath"`
		Plan            string `yaml:"plan"`
		HealthCheckPath string `yaml:"healthCheckPath"`
		EnvVars         []struct {
			Key           string `yaml:"key"`
			Value         string `yaml:"value"`
			Sync          *bool  `yaml:"sync"`
			GenerateValue bool   `yaml:"generateValue"`
		} `yaml:"envVars"`
	} `yaml:"services"`
}

func TestRenderBlueprint(t *testing.T) {
	var bp renderBlueprint
	decodeYAMLStrict(t, "../render.yaml", &bp)
	if len(bp.Services) != 1 {
		t.Fatalf("render.yaml: %d services, want 1", len(bp.Services))
	}
	svc := bp.Services[0]
	if svc.Plan != "free" {
		t.Errorf("render.yaml: plan %q, not the free plan the README names", svc.Plan)
	}
	if svc.Type != "web" || svc.HealthCheckPath != "/healthz" || svc.Runtime != "docker" || svc.DockerfilePath != "./Dockerfile" {
		t.Errorf("render.yaml: %+v", svc)
	}
	var keys []string
	for _, v := range svc.EnvVars {
		keys = append(keys, v.Key)
		secret := slices.Contains(config.SecretVariables(), v.Key)
		switch {
		case v.Key == "CALLBACK_SECRETS" && !v.GenerateValue:
			t.Errorf("render.yaml: CALLBACK_SECRETS is not generated")
		case secret && v.Value != "":
			t.Errorf("render.yaml: secret %s has a value", v.Key)
		case v.Key == "TOKEN_ENCRYPTION_KEYS" && !v.GenerateValue:
			// Render generates 32 random bytes in base64: exactly a key.
			t.Errorf("render.yaml: TOKEN_ENCRYPTION_KEYS is not generated")
		case secret && !v.GenerateValue && (v.Sync == nil || *v.Sync):
			t.Errorf("render.yaml: secret %s is not sync: false", v.Key)
		}
	}
	sameSet(t, "render.yaml", keys, platformVariables())
	// Render's file has no description field: each variable's comment is its description.
	described := regexp.MustCompile(`(?m)^      # .+\n      - key: (\w+)$`).FindAllStringSubmatch(string(readFile(t, "../render.yaml")), -1)
	if len(described) != len(keys) {
		t.Errorf("render.yaml: %d of %d variables have a description comment", len(described), len(keys))
	}
}

// railwayConfig is Railway's config-as-code schema, as far as the file uses it.
type railwayConfig struct {
	Schema string `json:"$schema"`
	Build  struct {
		Builder        string `json:"builder"`
		DockerfilePath string `json:"dockerfilePath"`
	} `json:"build"`
	Deploy struct {
		HealthcheckPath         string `json:"healthcheckPath"`
		HealthcheckTimeout      int    `json:"healthcheckTimeout"`
		RestartPolicyType       string `json:"restartPolicyType"`
		RestartPolicyMaxRetries int    `json:"restartPolicyMaxRetries"`
		DrainingSeconds         int    `json:"drainingSeconds"`
	} `json:"deploy"`
}

func TestRailwayConfig(t *testing.T) {
	var rc railwayConfig
	decodeJSONStrict(t, "../railway.json", &rc)
	if rc.Build.Builder != "DOCKERFILE" || rc.Build.DockerfilePath != "Dockerfile" || rc.Deploy.HealthcheckPath != "/healthz" {
		t.Errorf("railway.json: %+v", rc)
	}
	// Railway stops the old deployment after drainingSeconds: it must cover the service's drain.
	if time.Duration(rc.Deploy.DrainingSeconds)*time.Second <= defaultShutdownTimeout(t) {
		t.Errorf("railway.json: drainingSeconds %d does not cover SHUTDOWN_TIMEOUT", rc.Deploy.DrainingSeconds)
	}
}

// composeFile is the part of the Compose schema the file uses.
type composeFile struct {
	// XZoomtoken is the shared definition of the two replicas (an extension field).
	XZoomtoken any                 `yaml:"x-zoomtoken"`
	Volumes    map[string]struct{} `yaml:"volumes"`
	Services   map[string]struct {
		Image   string   `yaml:"image"`
		Volumes []string `yaml:"volumes"`
		Build   struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
			Target     string `yaml:"target"`
		} `yaml:"build"`
		Entrypoint  []string          `yaml:"entrypoint"`
		DependsOn   []string          `yaml:"depends_on"`
		Ports       []string          `yaml:"ports"`
		ReadOnly    bool              `yaml:"read_only"`
		Environment map[string]string `yaml:"environment"`
		Healthcheck struct {
			Disable bool `yaml:"disable"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
}

func TestDockerCompose(t *testing.T) {
	var cf composeFile
	decodeYAMLStrict(t, "docker-compose.yml", &cf)
	svc, emu, second, pg := cf.Services["zoomtoken"], cf.Services["zoomemu"], cf.Services["zoomtoken-2"], cf.Services["postgres"]
	// Two replicas, one database: the same configuration, published on two ports.
	if !maps.Equal(svc.Environment, second.Environment) || len(second.Ports) != 1 || second.Ports[0] == svc.Ports[0] {
		t.Errorf("the second replica differs: %v %v", second.Ports, second.Environment)
	}
	dbURL := svc.Environment["DATABASE_URL"]
	if !strings.HasPrefix(dbURL, "postgres://"+pg.Environment["POSTGRES_USER"]+":"+pg.Environment["POSTGRES_PASSWORD"]+"@postgres:5432/"+pg.Environment["POSTGRES_DB"]) ||
		!slices.Contains(svc.DependsOn, "postgres") || len(pg.Volumes) == 0 || !strings.HasPrefix(pg.Image, "postgres:") {
		t.Errorf("the replicas do not share the compose PostgreSQL: %q, depends on %v", dbURL, svc.DependsOn)
	}
	if _, err := config.Load(func(k string) string { return svc.Environment[k] }); err != nil {
		t.Errorf("the compose configuration does not load: %v", err)
	}
	sameSet(t, "docker-compose.yml", slices.Collect(maps.Keys(svc.Environment)), config.Variables())
	if svc.Environment["ZOOM_API_BASE_URL"] != "http://zoomemu:9900" || len(emu.Entrypoint) == 0 || emu.Entrypoint[0] != "/zoomemu" {
		t.Errorf("docker-compose.yml does not wire the service to the emulator: %+v %+v", svc.Environment, emu.Entrypoint)
	}
	// The service builds the default target (zoomtoken alone); the emulator its own.
	if svc.Build.Target != "" || emu.Build.Target != "emulator" {
		t.Errorf("docker-compose.yml builds targets %q and %q", svc.Build.Target, emu.Build.Target)
	}
	if svc.Ports[0] != svc.Environment["PORT"]+":"+svc.Environment["PORT"] {
		t.Errorf("docker-compose.yml publishes %v but the service listens on %s", svc.Ports, svc.Environment["PORT"])
	}
}

func defaultShutdownTimeout(tb testing.TB) time.Duration {
	tb.Helper()
	cfg, err := config.Load(func(k string) string {
		return map[string]string{"ZOOM_MEETING_SDK_KEY": "k", "ZOOM_MEETING_SDK_SECRET": "s"}[k]
	})
	if err != nil {
		tb.Fatal(err)
	}
	return cfg.ShutdownTimeout
}

// TestREADMENamesEachButtonsCost checks that each deploy button in the README is followed by the
// plan its file picks and that plan's price or limits, so no one deploys into a bill unawares.
func TestREADMENamesEachButtonsCost(t *testing.T) {
	readme := string(readFile(t, "../README.md"))
	for button, says := range map[string][]string{
		"https://render.com/deploy?repo=": {"free plan", "sleeps after 15 minutes", "Starter ($7/month)"},
		"https://heroku.com/deploy?":      {"Eco dyno", "$5/month", "Basic ($7/month)"},
	} {
		at := strings.Index(readme, button)
		if at < 0 {
			t.Errorf("README.md has no %s button", button)
			continue
		}
		next := readme[at:min(len(readme), at+600)]
		for _, s := range says {
			if !strings.Contains(next, s) {
				t.Errorf("README.md: the %s button is not followed by %q", button, s)
			}
		}
	}
}
