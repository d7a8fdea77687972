package deploy

import (
	"debug/elf"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dockerBuild returns the go build command of the Dockerfile's build stage, so the test builds
// the binary exactly the way the image does.
func dockerBuild(tb testing.TB) string {
	tb.Helper()
	m := regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 .*go build .*)$`).FindStringSubmatch(string(readFile(tb, "../Dockerfile")))
	if m == nil {
		tb.Fatal("Dockerfile: no RUN CGO_ENABLED=0 go build line")
	}
	return m[1]
}

// dockerStage is one named stage of the Dockerfile and what it copies from the build stage.
type dockerStage struct {
	Name       string
	FromBuild  []string // the sources of its COPY --from=build lines
	Entrypoint string
}

// dockerfileStages returns the Dockerfile's stages in order; the last is the default target.
func dockerfileStages(tb testing.TB) []dockerStage {
	tb.Helper()
	var stages []dockerStage
	for line := range strings.Lines(string(readFile(tb, "../Dockerfile"))) {
		fields := strings.Fields(line)
		switch {
		case len(fields) >= 4 && fields[0] == "FROM" && fields[len(fields)-2] == "AS":
			stages = append(stages, dockerStage{Name: fields[len(fields)-1]})
		case len(stages) == 0:
		case len(fields) >= 3 && fields[0] == "COPY" && slices.Contains(fields, "--from=build"):
			for _, f := range fields[1 : len(fields)-1] {
				if !strings.HasPrefix(f, "--") {
					stages[len(stages)-1].FromBuild = append(stages[len(stages)-1].FromBuild, f)
				}
			}
		case len(fields) >= 2 && fields[0] == "ENTRYPOINT":
			stages[len(stages)-1].Entrypoint = strings.Join(fields[1:], " ")
		}
	}
	return stages
}

// TestDockerfileTargets pins the image targets: the default (last) target holds zoomtoken alone,
// so the emulator never ships to production; the emulator has a target of its own.
func TestDockerfileTargets(t *testing.T) {
	want := []dockerStage{
		{Name: "build"},
		{Name: "emulator", FromBuild: []string{"/out/zoomemu"}, Entrypoint: `["/zoomemu"]`},
		{Name: "service", FromBuild: []string{"/out/zoomtoken", "/out/data"}, Entrypoint: `["/zoomtoken"]`},
	}
	if got := dockerfileStages(t); !reflect.DeepEqual(got, want) {
		t.Errorf("Dockerfile stages:\n got %+v\nwant %+v", got, want)
	}
}

func TestDockerfileGoVersionMatchesGoMod(t *testing.T) {
	goMod := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(string(readFile(t, "../go.mod")))
	image := regexp.MustCompile(`(?m)^FROM (?:--platform=\S+ )?golang:(\S+?)(-\S+)? AS build$`).FindStringSubmatch(string(readFile(t, "../Dockerfile")))
	if goMod == nil || image == nil || goMod[1] != image[1] {
		t.Errorf("go.mod says go %v, the Dockerfile builds with golang:%v", goMod, image)
	}
}

// TestImageBinaryIsStaticAndRunsInAnEmptyRoot builds the binary as the Dockerfile does, checks
// that it needs no dynamic loader or library, and runs it chrooted into a directory holding
// nothing else: if it answers /healthz there, the distroless image cannot lack a file it needs.
func TestImageBinaryIsStaticAndRunsInAnEmptyRoot(t *testing.T) {
	root := t.TempDir()
	build := strings.ReplaceAll(dockerBuild(t), "${VERSION}", "test")
	build = strings.Replace(build, "-o /out/ ", "-o "+root+"/ ", 1)
	cmd := exec.Command("sh", "-c", build)
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", build, err, out)
	}
	binary := filepath.Join(root, "zoomtoken")

	f, err := elf.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary is dynamically linked (%v)", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs %v", libs)
	}
	f.Close()
	os.Remove(filepath.Join(root, "zoomemu")) // the empty root holds the service alone

	if os.Geteuid() != 0 {
		t.Skip("chroot needs root; CI runs as root, so this part always runs there")
	}
	port := freePort(t)
	env := []string{"PORT=" + port, "ZOOM_MEETING_SDK_KEY=imageTestKey", "ZOOM_MEETING_SDK_SECRET=image-test-secret"}
	server := exec.Command("/zoomtoken")
	server.Env = env
	server.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	server.Dir = "/"
	server.Stdout, server.Stderr = io.Discard, os.Stderr
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- server.Wait() }()
	defer server.Process.Kill()

	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://127.0.0.1:" + port + "/healthz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "ok" {
				t.Fatalf("/healthz in the empty root: %d %q", resp.StatusCode, body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer on /healthz from the chrooted binary: %v", err)
		}
		select {
		case err := <-exited:
			t.Fatalf("the chrooted binary exited: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}

	// The image's HEALTHCHECK runs the binary itself: it must work in the empty root too.
	check := exec.Command("/zoomtoken", "healthcheck")
	check.Env = env
	check.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	check.Dir = "/"
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("healthcheck in the empty root: %v\n%s", err, out)
	}

	server.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("SIGTERM: the binary exited with %v, want 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the binary did not stop on SIGTERM")
	}
}

func freePort(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}
