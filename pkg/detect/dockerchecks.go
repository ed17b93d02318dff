package detect

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/immich-accel/immich-accel/internal/docker"
)

// dockerChecks reports the Docker area: CLI, daemon, Compose, runtimes.
func (e *evaluator) dockerChecks() {
	e.add(e.dockerCLICheck(), e.dockerDaemonCheck(), e.composeCheck(), e.runtimesCheck())
}

// dockerReachable tells whether the daemon answered.
func (df *dockerFacts) reachable() bool {
	return df.Info != nil || (df.Endpoint != "" && df.PingErr == nil && df.NoDaemon == "")
}

func (e *evaluator) dockerCLICheck() Check {
	df := e.f.docker
	c := Check{ID: CheckDockerCLI, Area: AreaDocker}
	switch {
	case df.CLIPath != "":
		c.Status, c.Finding = StatusOK, "docker CLI at "+df.CLIPath
	case df.reachable():
		c.Status, c.Finding = StatusWarn, "docker CLI not found"
		c.Fix = "Install the docker CLI (docker-ce-cli) to manage Immich with `docker compose`."
	default:
		c.Status, c.Finding = StatusFail, "docker CLI not found"
		c.Fix = "Install Docker Engine: https://docs.docker.com/engine/install/"
	}
	return c
}

// podman tells whether the daemon is Podman's Docker-compatible service.
func (df *dockerFacts) podman() bool {
	return (df.Version != nil && df.Version.Podman()) || strings.Contains(df.Endpoint, "podman")
}

// endpointName is the daemon's address with the docker context that
// chose it, when that is not the default one.
func (df *dockerFacts) endpointName() string {
	if df.Context != "" && df.Context != "default" {
		return fmt.Sprintf("%s (context %s)", df.Endpoint, df.Context)
	}
	return df.Endpoint
}

func (e *evaluator) dockerDaemonCheck() Check {
	df := e.f.docker
	c := Check{ID: CheckDockerDaemon, Area: AreaDocker}
	switch {
	case df.NoDaemon != "":
		c.Status = StatusFail
		c.Finding = "Docker daemon not reachable: " + df.NoDaemon
		c.Fix = "Start Docker (sudo systemctl enable --now docker), or set DOCKER_HOST to the daemon's address."
		switch {
		case df.BadHost:
			c.Fix = "Set DOCKER_HOST to unix:///path/to/docker.sock or tcp://host:port, or unset it to use " + docker.DefaultSocket + "; for a daemon reached over ssh://, run doctor on that host."
		case df.BadContext:
			c.Fix = "Pick an existing context (`docker context ls`, `docker context use default`) or unset DOCKER_CONTEXT."
		}
	case df.PingErr != nil:
		c.Status = StatusFail
		c.Finding, c.Fix = e.pingFailure()
	case df.Info == nil:
		c.Status = StatusWarn
		c.Finding = "Docker daemon at " + df.endpointName() + " answers, but /info failed: " + shortErr(errString(df.InfoErr))
		c.Fix = "Check `docker info` and `journalctl -u docker`."
	case df.podman():
		c.Status = StatusWarn
		c.Finding = fmt.Sprintf("Podman %s at %s, not Docker Engine", df.Info.ServerVersion, df.endpointName())
		c.Fix = "Immich documents Docker Engine with Docker Compose only; Podman's Docker API works for many setups, but GPU passthrough differs (CDI devices instead of `driver: nvidia`). Install Docker Engine for the documented path."
	default:
		c.Status = StatusOK
		kind := "native engine"
		if e.dockerDesktop() {
			kind = "Docker Desktop"
		}
		api := ""
		if df.Version != nil && df.Version.APIVersion != "" {
			api = " (API " + df.Version.APIVersion + ")"
		}
		c.Finding = fmt.Sprintf("Docker Engine %s%s at %s (%s)", df.Info.ServerVersion, api, df.endpointName(), kind)
		if df.Info.OperatingSystem != "" {
			c.Detail = append(c.Detail, "operating system: "+df.Info.OperatingSystem)
		}
		if df.Info.Architecture != "" {
			c.Detail = append(c.Detail, "architecture: "+df.Info.Architecture)
		}
	}
	if df.Source != "" && df.NoDaemon == "" {
		ctx := df.Context
		if ctx == "" {
			ctx = "none (DOCKER_HOST overrides contexts)"
		}
		c.Detail = append(c.Detail, "endpoint from "+df.Source+"; docker context: "+ctx)
	}
	if len(df.DesktopHints) > 0 {
		c.Detail = append(c.Detail, "Docker Desktop traces: "+strings.Join(df.DesktopHints, ", "))
	}
	return c
}

// pingFailure says why the daemon did not answer, and what to do.
func (e *evaluator) pingFailure() (finding, fix string) {
	df := e.f.docker
	at := df.endpointName()
	msg := df.PingErr.Error()
	finding = "Docker daemon at " + at + " did not answer: " + shortErr(msg)
	switch {
	case strings.Contains(msg, "connection refused"):
		finding = "Docker daemon at " + at + " is not running: connection refused"
	case strings.Contains(msg, "no such file or directory"):
		finding = "Docker daemon at " + at + " is not running: the socket does not exist"
	case errors.Is(df.PingErr, docker.ErrTimeout):
		finding = fmt.Sprintf("Docker daemon at %s accepts connections but did not answer within %s", at, e.d.timeout)
	case reHTTPStatus.MatchString(msg):
		finding = "something answers at " + at + ", but not as a Docker daemon: " + shortErr(msg)
	}
	switch {
	case reHTTPStatus.MatchString(msg):
		fix = "Check DOCKER_HOST: it must be the Docker daemon's address (tcp://host:2375 or a unix socket), not a proxy or another service."
	case strings.Contains(msg, "permission denied"):
		fix = "Add your user to the docker group (sudo usermod -aG docker $USER, then log in again) or run with sudo."
	case errors.Is(df.PingErr, docker.ErrTimeout):
		fix = "The daemon accepts connections but does not answer; check `sudo systemctl status docker` and `journalctl -u docker`."
	default:
		fix = "Start Docker (sudo systemctl enable --now docker), or set DOCKER_HOST to the daemon's address."
	}
	return finding, fix
}

const composeInstall = "Install the Compose v2 plugin (docker-compose-plugin): https://docs.docker.com/compose/install/linux/"

func (e *evaluator) composeCheck() Check {
	df := e.f.docker
	c := Check{ID: CheckDockerCompose, Area: AreaDocker}
	switch {
	case df.ComposePath != "" && df.ComposeVersion != "":
		c.Status = StatusOK
		c.Finding = "Compose v" + df.ComposeVersion + " (plugin at " + df.ComposePath + ")"
		if !versionAtLeast(df.ComposeVersion, "2.0.0") {
			c.Status = StatusFail
			c.Finding = "Compose " + df.ComposeVersion + " is older than v2"
			c.Fix = composeInstall
		}
	case df.ComposePath != "":
		c.Status = StatusOK
		c.Finding = "Compose plugin at " + df.ComposePath
		if df.ComposeErr != "" {
			c.Status = StatusWarn
			c.Finding += ", version unknown: " + shortErr(df.ComposeErr)
			c.Fix = "Check that `docker compose version` works."
		}
	case df.ComposeV1 != "":
		c.Status = StatusFail
		c.Finding = "only a standalone docker-compose at " + df.ComposeV1 + "; Immich's files need Compose v2 (`docker compose`)"
		c.Fix = composeInstall
	default:
		c.Status = StatusFail
		c.Finding = "Compose v2 plugin not found in the Docker CLI plugin directories"
		c.Fix = composeInstall
	}
	return c
}

func (e *evaluator) runtimesCheck() Check {
	df := e.f.docker
	tk := e.f.toolkit
	c := Check{ID: CheckDockerRuntimes, Area: AreaDocker}
	switch {
	case df.Info != nil:
		names := make([]string, 0, len(df.Info.Runtimes))
		for k := range df.Info.Runtimes {
			names = append(names, k)
		}
		sort.Strings(names)
		c.Status = StatusOK
		c.Finding = "runtimes: " + orNone(strings.Join(names, ", "))
		if df.Info.DefaultRuntime != "" {
			c.Finding += " (default " + df.Info.DefaultRuntime + ")"
		}
		if len(df.Info.CDISpecDirs) > 0 {
			c.Detail = append(c.Detail, "CDI spec directories: "+strings.Join(df.Info.CDISpecDirs, ", "))
		}
	case len(df.DaemonJSONRuntimes) > 0:
		c.Status = StatusOK
		c.Finding = "runtimes in /etc/docker/daemon.json: " + strings.Join(df.DaemonJSONRuntimes, ", ")
	case df.DaemonJSONErr != nil:
		c.Status = StatusWarn
		c.Finding = "cannot read /etc/docker/daemon.json: " + describeErr(df.DaemonJSONErr)
		c.Fix = "Check the file's JSON syntax: a broken daemon.json keeps Docker from starting."
	default:
		c.Status = StatusSkip
		c.Finding = "registered runtimes unknown: the daemon is not reachable and /etc/docker/daemon.json lists none"
	}
	if df.DaemonJSONCDI {
		c.Detail = append(c.Detail, "CDI enabled in /etc/docker/daemon.json")
	}
	if len(tk.CDISpecs) > 0 {
		c.Detail = append(c.Detail, "NVIDIA CDI specs: "+strings.Join(tk.CDISpecs, ", "))
	}
	return c
}
