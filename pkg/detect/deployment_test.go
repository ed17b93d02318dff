package detect_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/immich-accel/immich-accel/pkg/accel"
	"github.com/immich-accel/immich-accel/pkg/compose"
	"github.com/immich-accel/immich-accel/pkg/detect"
)

// mlCompose is an Immich compose file whose machine-learning service has
// the given image tag suffix and extra lines (extends, devices, volumes).
func mlCompose(header, suffix, extra string) string {
	return header + `services:
  immich-server:
    image: ghcr.io/immich-app/immich-server:${IMMICH_VERSION:-release}
  immich-machine-learning:
    container_name: immich_machine_learning
    image: ghcr.io/immich-app/immich-machine-learning:${IMMICH_VERSION:-release}` + suffix + `
` + extra + `    volumes:
      - model-cache:/cache
    restart: always
volumes:
  model-cache:
`
}

const extendsCUDA = "    extends:\n      file: hwaccel.ml.yml\n      service: cuda\n"

// extendsVar takes the section from a variable, as some stacks do.
const extendsVar = "    extends:\n      file: hwaccel.ml.yml\n      service: ${HWACCEL_ML:-cpu}\n"

// writeCompose writes a compose file (and, with hwaccel, the scenario's
// hwaccel.ml.yml next to it) into a new directory and returns its path.
func writeCompose(t *testing.T, content string, hwaccel bool) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "docker-compose.yml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if hwaccel {
		src, err := os.ReadFile(filepath.Join(hostsDir, "nvidia-desktop", "compose", "hwaccel.ml.yml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "hwaccel.ml.yml"), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// Check 9: each deployment mistake the issue names, read through
// pkg/compose's inspector, ends in a failed check whose fix is the command
// that repairs it.
func TestDeploymentMistakes(t *testing.T) {
	tests := []struct {
		name    string
		host    string
		compose string
		hwaccel bool
		check   string
		status  detect.Status
		finding string        // substring
		run     accel.Backend // the backend the fix's compose run switches to
		env     string        // a .env next to the compose file
	}{
		{name: "section without suffix", host: "nvidia-desktop", compose: mlCompose("", "", extendsCUDA), hwaccel: true,
			check: "compose-section-without-suffix", status: detect.StatusFail, finding: "no -cuda suffix", run: "cuda"},
		{name: "suffix without devices", host: "nvidia-desktop", compose: mlCompose("", "-cuda", ""),
			check: "compose-suffix-without-section", status: detect.StatusFail, finding: "-cuda suffix but the service does not have the cuda section", run: "cuda"},
		{name: "extends file not next to the compose file", host: "nvidia-desktop", compose: mlCompose("", "-cuda", extendsCUDA),
			check: "compose-extends-file-missing", status: detect.StatusFail, finding: "hwaccel.ml.yml, which is not next to the compose file", run: "cuda"},
		{name: "openvino on WSL2", host: "wsl2-intel", hwaccel: true,
			compose: mlCompose("", "-openvino", "    extends:\n      file: hwaccel.ml.yml\n      service: openvino\n"),
			check:   "compose-backend", status: detect.StatusFail, finding: "openvino section does not work on WSL2", run: "openvino-wsl"},
		{name: "openvino-wsl takes the -openvino suffix", host: "wsl2-intel", hwaccel: true,
			compose: mlCompose("", "-openvino", "    extends:\n      file: hwaccel.ml.yml\n      service: openvino-wsl\n"),
			check:   "compose-backend", status: detect.StatusOK, finding: "configured for openvino-wsl"},
		{name: "backend this host cannot serve", host: "no-gpu-server", compose: mlCompose("", "-cuda", extendsCUDA), hwaccel: true,
			check: "compose-backend", status: detect.StatusFail, finding: "configured for cuda, which this host cannot serve: no NVIDIA GPU", run: "cpu"},
		{name: "libmali mounted from where this host has none", host: "mali-libmali-elsewhere",
			compose: mlCompose("", "-armnn", "    extends:\n      file: hwaccel.ml.yml\n      service: armnn\n"), hwaccel: true,
			check: "compose-backend", status: detect.StatusFail, finding: "mounts /lib/firmware/mali_csffw.bin, /usr/lib/libmali.so, which this host does not have; libmali is at /usr/lib/aarch64-linux-gnu/libmali.so.1", run: "armnn"},
		{name: "section chosen in .env, image without suffix", host: "nvidia-desktop", hwaccel: true,
			compose: mlCompose("", "", extendsVar), env: "HWACCEL_ML=cuda\n",
			check: "compose-section-without-suffix", status: detect.StatusFail, finding: "the cuda section is set but the image tag has no -cuda suffix", run: "cuda"},
		{name: "section and suffix chosen in .env", host: "nvidia-desktop", hwaccel: true,
			compose: mlCompose("", "${ML_VARIANT:-}", extendsVar), env: "# GPU\nHWACCEL_ML=cuda\r\nML_VARIANT=-cuda\r\n",
			check: "compose-backend", status: detect.StatusOK, finding: "configured for cuda, which this host can serve"},
		{name: "suffix in .env does not match the section in .env", host: "nvidia-desktop", hwaccel: true,
			compose: mlCompose("", "${ML_VARIANT:-}", extendsVar), env: "HWACCEL_ML=cuda\nML_VARIANT=-openvino\n",
			check: "compose-suffix-section-mismatch", status: detect.StatusFail, finding: "suffix -openvino does not match the cuda section", run: "cuda"},
		{name: ".env that docker compose cannot read", host: "nvidia-desktop", hwaccel: true,
			compose: mlCompose("", "-cuda", extendsCUDA), env: "IMMICH VERSION=v2\n",
			check: "compose-env-file-invalid", status: detect.StatusFail, finding: "cannot be read as an env file"},
		{name: "CPU although an accelerator is ready", host: "intel-n100", compose: mlCompose("", "", ""),
			check: "compose-backend", status: detect.StatusWarn, finding: "configured for the CPU although this host can serve openvino", run: "openvino"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := load(t, tt.host)
			path := writeCompose(t, tt.compose, tt.hwaccel)
			if tt.env != "" {
				if err := os.WriteFile(filepath.Join(filepath.Dir(path), ".env"), []byte(tt.env), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			r := run(t, sc, detect.WithComposeFile(path))
			if c := r.Check("compose-file"); c == nil || c.Status != detect.StatusOK {
				t.Fatalf("compose-file = %+v", c)
			}
			c := r.Check(detect.CheckID(tt.check))
			if c == nil {
				var ids []string
				for _, c := range r.Checks {
					if c.Area == detect.AreaDeployment {
						ids = append(ids, string(c.ID)+"="+string(c.Status)+": "+c.Finding)
					}
				}
				t.Fatalf("no check %s; deployment checks: %s", tt.check, strings.Join(ids, " | "))
			}
			if c.Status != tt.status || !strings.Contains(c.Finding, tt.finding) {
				t.Errorf("%s = %s %q, want %s containing %q", tt.check, c.Status, c.Finding, tt.status, tt.finding)
			}
			if tt.run != "" && (c.Run == nil || c.Run.Backend != tt.run) {
				t.Errorf("%s run = %+v, want a compose run to %s", tt.check, c.Run, tt.run)
			}
			// The file lies outside the working directory: every run in a
			// fix names it.
			if c.Run != nil && c.Run.File != path {
				t.Errorf("run %+v does not name the compose file %s", c.Run, path)
			}
			if strings.Contains(c.Fix, "immich-accel compose") {
				t.Errorf("fix %q writes a command line; detect gives the run", c.Fix)
			}
		})
	}
}

// The recommended command adds --inline for stacks and inlined sections,
// and --file only when compose would not find the file by itself.
func TestRecommendedCommand(t *testing.T) {
	sc := load(t, "nvidia-desktop")
	plain := writeCompose(t, mlCompose("", "-cuda", extendsCUDA), true)
	portainer := writeCompose(t, mlCompose("# Portainer stack: env from stack.env\n", "", ""), false)
	spaced := filepath.Join(t.TempDir(), "my immich", "docker-compose.yml")
	if err := os.MkdirAll(filepath.Dir(spaced), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(spaced, []byte(mlCompose("", "", "")), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		compose string
		workDir string
		want    compose.FixRun
	}{
		{name: "found in the working directory", workDir: filepath.Dir(plain), want: compose.FixRun{Backend: accel.CUDA}},
		{name: "given and in the working directory", compose: plain, workDir: filepath.Dir(plain), want: compose.FixRun{Backend: accel.CUDA}},
		{name: "given elsewhere", compose: plain, workDir: t.TempDir(), want: compose.FixRun{Backend: accel.CUDA, File: plain}},
		{name: "directory given", compose: filepath.Dir(plain), workDir: t.TempDir(), want: compose.FixRun{Backend: accel.CUDA, File: plain}},
		{name: "path with a space", compose: spaced, want: compose.FixRun{Backend: accel.CUDA, File: spaced}},
		{name: "Portainer stack", compose: portainer, workDir: filepath.Dir(portainer), want: compose.FixRun{Backend: accel.CUDA, Inline: true}},
		{name: "no compose file", workDir: t.TempDir(), want: compose.FixRun{Backend: accel.CUDA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The scenario's own compose file is replaced (or dropped).
			opts := append(sc.Options(), detect.WithTimeout(200*time.Millisecond),
				detect.WithWorkDir(tt.workDir), detect.WithComposeFile(tt.compose))
			r := detect.New(opts...).Run(context.Background())
			if got := r.Recommendation.Run; got == nil || *got != tt.want {
				t.Errorf("run = %+v, want %+v", got, tt.want)
			}
			if r.Recommendation.Command != "" {
				t.Errorf("detect wrote a command line: %q", r.Recommendation.Command)
			}
		})
	}
}

// A directory without a compose file, and a Helm values file, given with
// --compose: a failed check that says what to pass instead.
func TestComposeNotAComposeFile(t *testing.T) {
	sc := load(t, "no-gpu-server")
	helm := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(helm, []byte("image:\n  repository: ghcr.io/immich-app/immich-server\n  tag: v2.2.3\nmachine-learning:\n  enabled: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(t.TempDir(), "huge.yml")
	if err := os.WriteFile(huge, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(huge, 64<<20); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, path, finding, fix string }{
		{"empty directory", t.TempDir(), "no compose file in", "--compose FILE"},
		{"Helm values", helm, "Helm chart or TrueNAS app values", "chart or app values"},
		// Reading these whole would block forever or exhaust memory.
		{"endless device", "/dev/zero", "/dev/zero is a character device, not a regular file", "--compose FILE"},
		{"named pipe", fifo, "is a named pipe, not a regular file", "--compose FILE"},
		{"huge file", huge, "is 64 MiB, far larger than any compose file", "--compose FILE"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, sc, detect.WithComposeFile(tt.path))
			c := r.Check("compose-file")
			if c.Status != detect.StatusFail || !strings.Contains(c.Finding, tt.finding) || !strings.Contains(c.Fix, tt.fix) {
				t.Errorf("compose-file = %+v, want fail with %q and a fix with %q", c, tt.finding, tt.fix)
			}
			// compose's fixes may name its --file flag: doctor takes it
			// too (internal/cli tests that).
		})
	}
}
