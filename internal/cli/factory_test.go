package cli

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/immich-accel/immich-accel/pkg/detect"
	"github.com/immich-accel/immich-accel/pkg/detect/detecttest"
)

// TestComposeHostFromDetector checks that compose receives the detector's
// host facts and recommendation, for hosts whose answers differ.
func TestComposeHostFromDetector(t *testing.T) {
	cases := []struct {
		scenario    string
		recommended string
		wsl         bool
		libMali     bool
		firmware    bool
		gpus        int
		notReady    bool
	}{
		{scenario: "no-gpu-server", recommended: "cpu"},
		{scenario: "nvidia-desktop", recommended: "cuda", gpus: 1},
		{scenario: "nvidia-no-toolkit", recommended: "cuda", gpus: 1, notReady: true},
		{scenario: "wsl2-intel", recommended: "openvino-wsl", wsl: true},
		{scenario: "rk3588-mali", recommended: "rknn", libMali: true, firmware: true},
		{scenario: "mali-libmali-elsewhere", recommended: "armnn", libMali: true},
	}
	for _, tc := range cases {
		t.Run(tc.scenario, func(t *testing.T) {
			sc, err := detecttest.Load(filepath.Join(hostsDir, tc.scenario))
			if err != nil {
				t.Fatal(err)
			}
			newDet := func(opts ...detect.Option) *detect.Detector {
				return detect.New(append(opts, append(sc.Options(), detect.WithTimeout(300*time.Millisecond))...)...)
			}
			info, err := composeHostFromDetector(context.Background(), newDet, "")
			if err != nil {
				t.Fatal(err)
			}
			if !info.Host.Known {
				t.Error("Host.Known = false, want true")
			}
			if string(info.Recommended) != tc.recommended {
				t.Errorf("Recommended = %q, want %q (why: %s)", info.Recommended, tc.recommended, info.Why)
			}
			if info.Why == "" {
				t.Error("Why is empty")
			}
			if info.Host.WSL != tc.wsl {
				t.Errorf("WSL = %v, want %v", info.Host.WSL, tc.wsl)
			}
			if (info.Host.LibMaliPath != "") != tc.libMali {
				t.Errorf("LibMaliPath = %q, want set=%v", info.Host.LibMaliPath, tc.libMali)
			}
			if info.Host.MaliFirmware != tc.firmware {
				t.Errorf("MaliFirmware = %v, want %v", info.Host.MaliFirmware, tc.firmware)
			}
			if info.Ready == tc.notReady {
				t.Errorf("Ready = %v, want %v", info.Ready, !tc.notReady)
			}
			if info.Host.NVIDIAGPUs != tc.gpus {
				t.Errorf("NVIDIAGPUs = %d, want %d", info.Host.NVIDIAGPUs, tc.gpus)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := composeHostFromDetector(ctx, detect.New, ""); err == nil {
			t.Error("cancelled context: want an error")
		}
	})
}

// verify's Docker Engine is found as the docker CLI finds it, under
// --host-root when one is given; NVML is not opened then.
func TestRealVerifyEnv(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "var/run"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "var/run/docker.sock"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	env := realVerifyEnv(func(string) string { return "" }, root)
	if env.Engine == nil || env.Engine.Endpoint() != "unix://"+filepath.Join(root, "var/run/docker.sock") {
		t.Fatalf("engine = %v, err %v", env.Engine, env.EngineErr)
	}
	if env.NVML != nil || env.HostFS.Root() != root || env.Logs == nil {
		t.Fatalf("env = %+v", env)
	}
	env = realVerifyEnv(func(k string) string {
		if k == "DOCKER_HOST" {
			return "tcp://127.0.0.1:2375"
		}
		return ""
	}, "")
	if env.Engine == nil || env.Engine.Endpoint() != "tcp://127.0.0.1:2375" || env.NVML == nil || !env.HostFS.IsHostRoot() {
		t.Fatalf("DOCKER_HOST: engine %v, err %v, NVML %v", env.Engine, env.EngineErr, env.NVML)
	}
	env = realVerifyEnv(func(k string) string {
		if k == "DOCKER_HOST" {
			return "ssh://box"
		}
		return ""
	}, "")
	if env.Engine != nil || env.EngineErr == nil {
		t.Fatalf("ssh:// accepted: %+v", env)
	}
}
