package compose

import (
	"errors"
	"path"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Sentinels for the service that transcodes, beside ErrNoMLService and
// ErrSeveralMLServices.
var (
	// ErrNoServerService: no Immich server service was found.
	ErrNoServerService = errors.New("no Immich server service")
	// ErrSeveralServerServices: more than one service could be the one
	// that transcodes.
	ErrSeveralServerServices = errors.New("several Immich server services")
)

// wellKnownServerNames are service names used for Immich's server when its
// image does not say so; immich-microservices did the transcoding before
// v1.106 (docker/docker-compose.yml, PR #9551).
var wellKnownServerNames = []string{"immich-microservices", "immich_microservices", "immich-server", "immich_server", "server", "immich"}

// isServerImage reports whether an image reference names Immich's server
// image (mirrors and registry proxies included).
func isServerImage(image string) bool {
	return strings.Contains(strings.ToLower(image), "immich-server")
}

// isMicroservices reports whether a service runs Immich's microservices
// worker (the service that transcoded before v1.106): by its name, or a
// command that starts microservices (`start.sh microservices`).
func isMicroservices(s serviceInfo) bool {
	if strings.Contains(strings.ToLower(s.name), "microservices") {
		return true
	}
	cmd, _ := mergedGet(s.val, "command")
	found := false
	walk(resolve(cmd), func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "microservices") {
			found = true
		}
	})
	return found
}

// findServer locates the service that transcodes: by --service, by image
// (immich-microservices when the file still has it), then by well-known
// names. It sets the same fields as findService.
func (p *parsed) findServer(want string) error {
	list := p.serviceList()
	pick := p.pick
	if want != "" {
		for _, s := range list {
			if s.name != want {
				continue
			}
			if s.ml {
				return newError(ErrNoServerService, "Name the service that runs immich-server with --server-service, or leave it out.",
					"service %q runs Immich's machine learning (%s), not the server; hwaccel.transcoding.yml sections are for the service that transcodes", s.name, s.image)
			}
			return pick(s)
		}
		return newError(ErrNoServerService, "Pick one of the services in the file with --server-service.",
			"there is no service %q; the file has: %s", want, serviceNames(list))
	}
	var byImage, micro []serviceInfo
	for _, s := range list {
		if isServerImage(s.image) {
			byImage = append(byImage, s)
			if isMicroservices(s) {
				micro = append(micro, s)
			}
		}
	}
	switch {
	case len(micro) == 1:
		return pick(micro[0])
	case len(micro) > 1:
		return newError(ErrSeveralServerServices, "Choose the one that transcodes with --server-service NAME.",
			"several services run Immich's microservices worker: %s", serviceNames(micro))
	case len(byImage) == 1:
		return pick(byImage[0])
	case len(byImage) > 1:
		// Split deployments: the one with a transcoding extends block
		// (live or commented) is the one meant.
		var marked []serviceInfo
		for _, s := range byImage {
			p.svcKey, p.svc, p.name = s.key, s.val, s.name
			if _, ok := isTranscodingExtends(mapGet(s.val, "extends")); ok || p.transcodingCommented() {
				marked = append(marked, s)
			}
		}
		p.svcKey, p.svc, p.name = nil, nil, ""
		if len(marked) == 1 {
			return pick(marked[0])
		}
		return newError(ErrSeveralServerServices, "Choose the one that transcodes with --server-service NAME.",
			"several services use the immich-server image: %s", serviceNames(byImage))
	}
	var overrides []string
	for _, name := range wellKnownServerNames {
		for _, s := range list {
			if s.name != name || s.val == nil || s.val.Kind != yaml.MappingNode || s.ml {
				continue
			}
			img, _ := mergedGet(s.val, "image")
			build, _ := mergedGet(s.val, "build")
			if img == nil && build == nil {
				overrides = append(overrides, s.name)
				continue
			}
			return pick(s)
		}
	}
	if len(overrides) > 0 {
		return newError(ErrNoServerService, "Run immich-accel on the main compose file that sets the image of the server service.",
			"service %q has no image: this looks like an override file, not the file that defines Immich's server", overrides[0])
	}
	return newError(ErrNoServerService,
		"Add Immich's immich-server service (see https://docs.immich.app/install/docker-compose), or name the service with --server-service.",
		"no Immich server service found (no image with immich-server); services in the file: %s", serviceNames(list))
}

// isTranscodingFileName reports whether an extends file is Immich's
// transcoding file: hwaccel.transcoding.yml, or hwaccel.yml, its name
// before v1.94 (where the server's extends pointed at service hwaccel).
func isTranscodingFileName(f string) bool {
	base := strings.ToLower(path.Base(strings.ReplaceAll(f, "\\", "/")))
	if strings.Contains(base, "transcod") {
		return true
	}
	return base == "hwaccel.yml" || base == "hwaccel.yaml"
}

// isTranscodingExtends reports whether an extends mapping points at a
// transcoding file.
func isTranscodingExtends(ext *yaml.Node) (file string, ok bool) {
	return extendsFileMatching(ext, isTranscodingFileName)
}

// transcodingCommented reports whether the located service carries
// Immich's commented-out transcoding extends block.
func (p *parsed) transcodingCommented() bool {
	start, end := p.serviceRegion()
	for i := start + 1; i < end; i++ {
		c, ok := commentText(p.t.lines[i])
		if !ok || !strings.HasPrefix(c, "extends:") {
			continue
		}
		for j := i + 1; j < end && j <= i+3; j++ {
			cj, ok := commentText(p.t.lines[j])
			if !ok {
				break
			}
			if f, ok := strings.CutPrefix(cj, "file:"); ok && isTranscodingFileName(strings.Trim(strings.Fields(f + " x")[0], `'"`)) {
				return true
			}
		}
	}
	return false
}
