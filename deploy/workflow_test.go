package deploy

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"gopkg.in/yaml.v3"
)

// TestImageWorkflowLints runs actionlint, the linter GitHub Actions users run, over every
// workflow: a typo in an action input, an expression or the job graph fails here rather than on
// the first tag.
func TestImageWorkflowLints(t *testing.T) {
	linter, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := linter.LintFiles([]string{"../.github/workflows/image.yml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		t.Errorf("%s:%d:%d: %s [%s]", e.Filepath, e.Line, e.Column, e.Message, e.Kind)
	}
}

// imageWorkflow is the part of the workflow file the test reads.
type imageWorkflow struct {
	On struct {
		Push struct {
			Tags []string `yaml:"tags"`
		} `yaml:"push"`
	} `yaml:"on"`
	Jobs map[string]struct {
		Needs    any `yaml:"needs"`
		Strategy struct {
			Matrix struct {
				Include []struct{ Target, Name string } `yaml:"include"`
			} `yaml:"matrix"`
		} `yaml:"strategy"`
		Steps []workflowStep `yaml:"steps"`
	} `yaml:"jobs"`
}

// workflowStep is one step of a job: an action it uses or a command it runs.
type workflowStep struct {
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	With map[string]string `yaml:"with"`
}

// TestImageWorkflowPublishesWhatTheDeployFilesPull checks what actionlint cannot: that a tag
// runs the README's test command first, then builds each Dockerfile target for both
// architectures and pushes it under the name the Kubernetes manifests pull.
func TestImageWorkflowPublishesWhatTheDeployFilesPull(t *testing.T) {
	var wf imageWorkflow
	if err := yaml.Unmarshal(readFile(t, "../.github/workflows/image.yml"), &wf); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(wf.On.Push.Tags, "v*") {
		t.Errorf("the workflow does not run on version tags: %v", wf.On.Push.Tags)
	}
	test, image := wf.Jobs["test"], wf.Jobs["image"]
	if !slices.ContainsFunc(test.Steps, func(s workflowStep) bool { return s.Run == "make test" }) {
		t.Error("the test job does not run make test")
	}
	if image.Needs != "test" {
		t.Errorf("the image job needs %v, not the tests", image.Needs)
	}
	targets := map[string]string{}
	for _, m := range image.Strategy.Matrix.Include {
		targets[m.Target] = m.Name
	}
	if targets["service"] != "zoomtoken" || targets["emulator"] != "zoomemu" || len(targets) != 2 {
		t.Errorf("the workflow builds %v, not the Dockerfile's targets service and emulator", targets)
	}
	var pushed bool
	for _, s := range image.Steps {
		switch {
		case strings.HasPrefix(s.Uses, "docker/metadata-action@"):
			if s.With["images"] != "ghcr.io/${{ github.repository_owner }}/${{ matrix.name }}" {
				t.Errorf("images pushed as %q", s.With["images"])
			}
		case strings.HasPrefix(s.Uses, "docker/build-push-action@"):
			pushed = s.With["push"] == "true" && s.With["target"] == "${{ matrix.target }}" &&
				s.With["platforms"] == "linux/amd64,linux/arm64" && strings.Contains(s.With["build-args"], "VERSION=")
		}
	}
	if !pushed {
		t.Error("no build-push step pushes each target for amd64 and arm64 with the version stamped")
	}
	// The manifests pull ghcr.io/<owner>/zoomtoken, the owner being the module path's.
	deployment := string(readFile(t, "kubernetes/deployment.yaml"))
	if !strings.Contains(deployment, "image: ghcr.io/zoomtoken/zoomtoken:") {
		t.Error("deployment.yaml does not pull the image the workflow publishes")
	}
}
