package detect

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/immich-accel/immich-accel/internal/ansi"
	"github.com/immich-accel/immich-accel/internal/docker"
	"github.com/immich-accel/immich-accel/internal/immich"
	"github.com/immich-accel/immich-accel/pkg/accel"
)

// ImmichAPI reads Immich's video transcoding settings from its server API;
// *immich.Client is the real one.
type ImmichAPI interface {
	Endpoint() string
	FFmpeg(ctx context.Context) (immich.FFmpeg, error)
}

// WithImmich reads Immich's ffmpeg.accel and ffmpeg.accelDecode settings
// through api, to compare them with the compose file.
func WithImmich(api ImmichAPI) Option { return func(d *Detector) { d.immich = api } }

type immichFacts struct {
	Asked    bool
	Endpoint string
	FFmpeg   immich.FFmpeg
	Err      error
}

func (d *Detector) probeImmich(ctx context.Context) immichFacts {
	if d.immich == nil {
		return immichFacts{}
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	f := immichFacts{Asked: true, Endpoint: d.immich.Endpoint()}
	f.FFmpeg, f.Err = d.immich.FFmpeg(ctx)
	if f.Err != nil && ctx.Err() != nil {
		f.Err = fmt.Errorf("no answer within %s: %w", d.timeout, f.Err)
	}
	return f
}

// findServerContainer picks the container that transcodes: Immich's
// microservices worker when there is one (before v1.106), else the server,
// preferring running ones.
func findServerContainer(cs []docker.Container) *docker.Container {
	var best *docker.Container
	score := func(c *docker.Container) int {
		s := 0
		if strings.Contains(c.Name(), "microservices") || c.Labels["com.docker.compose.service"] == "immich-microservices" {
			s += 2
		}
		if c.State == "running" {
			s += 4
		}
		return s
	}
	for i := range cs {
		c := &cs[i]
		if !isServerContainer(c) {
			continue
		}
		if best == nil || score(c) > score(best) {
			best = c
		}
	}
	return best
}

func isServerContainer(c *docker.Container) bool {
	if strings.Contains(c.Image, "immich-server") {
		return true
	}
	switch c.Labels["com.docker.compose.service"] {
	case "immich-server", "immich-microservices":
		return true
	}
	n := c.Name()
	return n == "immich_server" || n == "immich_microservices"
}

// serverLogSignature is a line Immich's server or its FFmpeg logs when
// hardware transcoding fails, with what it means and what to do.
type serverLogSignature struct {
	re      *regexp.Regexp
	meaning string
	fix     string
	source  string
}

// serverLogSignatures, from Immich's server (server/src/services/media.service.ts,
// server/src/utils/media.ts) and FFmpeg (libavutil/hwcontext_vaapi.c,
// hwcontext_qsv.c, libavcodec/nvenc.c), as seen in user reports.
var serverLogSignatures = []serverLogSignature{
	{regexp.MustCompile(`Cannot open DRM render node for device[^\n]*`),
		"FFmpeg cannot open the /dev/dri render node inside the container",
		"Pass /dev/dri to the server (immich-accel compose --transcode vaapi or quicksync); with user: set, add the render group to group_add.",
		"FFmpeg libavutil/hwcontext_vaapi.c"},
	{regexp.MustCompile(`Failed to set value 'qsv=hw[^']*' for option 'init_hw_device'[^\n]*`),
		"Quick Sync could not start (no Intel GPU in the container, an unsupported GPU, or WSL2, where Quick Sync is not supported)",
		"Use VAAPI instead (vaapi, or vaapi-wsl on WSL2), or pass the Intel GPU's /dev/dri.",
		"FFmpeg fftools/ffmpeg_opt.c via Immich's QsvSwDecodeConfig (-init_hw_device qsv=hw)"},
	{regexp.MustCompile(`No (QSV|VAAPI|RKMPP) device found[^\n]*`),
		"Immich found no render node in the container for the chosen Acceleration API",
		"Pass the devices of the method's section to the server (immich-accel compose --transcode METHOD).",
		"Immich server/src/utils/media.ts (getBaseInputOptions)"},
	{regexp.MustCompile(`Cannot load libnvidia-encode\.so\.1[^\n]*|Cannot load libcuda\.so\.1[^\n]*`),
		"the NVIDIA driver libraries for NVENC are not in the container (the video capability or the NVIDIA runtime is missing)",
		"immich-accel compose --transcode nvenc reserves the GPU with capabilities gpu, compute and video.",
		"FFmpeg libavcodec/nvenc.c, libavutil/hwcontext_cuda.c"},
	{regexp.MustCompile(`OpenEncodeSessionEx failed[^\n]*|No capable devices found[^\n]*`),
		"the NVIDIA GPU has no usable NVENC encoder (data-center GPUs have none; consumer GPUs limit concurrent sessions)",
		"Use another method (quicksync, vaapi) or the CPU; see transcode-nvenc.",
		"FFmpeg libavcodec/nvenc.c"},
	{regexp.MustCompile(`mpp_[a-z_]*[^\n]*(failed|error)[^\n]*|Failed to open /dev/mpp_service[^\n]*`),
		"Rockchip's media engine (MPP) failed in the container",
		"Pass the rkmpp section's devices (/dev/rga, /dev/mpp_service, /dev/dma_heap, /dev/dri) with its security_opt: immich-accel compose --transcode rkmpp.",
		"Rockchip MPP via FFmpeg's rkmpp codecs"},
}

var (
	reRetryDisabled = regexp.MustCompile(`Retrying with ([A-Za-z]+) acceleration disabled`)
	reTranscodeErr  = regexp.MustCompile(`Error occurred during transcoding: ([^\n]*)`)
	// "Encoding video X with NVENC acceleration" (older) and
	// "Transcoding video X with NVENC-accelerated encoding and hardware decoding".
	reEncodingWith = regexp.MustCompile(`with ([A-Z]+)(?: acceleration|-accelerated encoding)`)
	reEncodingSW   = regexp.MustCompile(`without hardware acceleration`)
)

type serverLogFindings struct {
	FallbackFrom string   // the accel that failed and was retried disabled
	Errors       []string // "Error occurred during transcoding: ..." messages
	Matched      []serverLogSignature
	MatchedLines []string
	UsedAccel    string // the last hardware accel Immich said it encodes with
	Software     bool   // the last encode was announced without acceleration
}

func analyzeServerLogs(logs string) serverLogFindings {
	var lf serverLogFindings
	s := ansi.Strip(logs)
	if m := reRetryDisabled.FindAllStringSubmatch(s, -1); len(m) > 0 {
		lf.FallbackFrom = strings.ToLower(m[len(m)-1][1])
	}
	for _, m := range reTranscodeErr.FindAllStringSubmatch(s, 5) {
		lf.Errors = append(lf.Errors, shorten(strings.TrimSpace(m[1])))
	}
	for _, sig := range serverLogSignatures {
		if m := sig.re.FindString(s); m != "" {
			lf.Matched = append(lf.Matched, sig)
			lf.MatchedLines = append(lf.MatchedLines, shorten(strings.TrimSpace(m)))
		}
	}
	hw := reEncodingWith.FindAllStringSubmatchIndex(s, -1)
	sw := reEncodingSW.FindAllStringIndex(s, -1)
	lastHW, lastSW := -1, -1
	if len(hw) > 0 {
		lastHW = hw[len(hw)-1][0]
		m := hw[len(hw)-1]
		lf.UsedAccel = strings.ToLower(s[m[2]:m[3]])
	}
	if len(sw) > 0 {
		lastSW = sw[len(sw)-1][0]
	}
	lf.Software = lastSW > lastHW
	return lf
}

func shorten(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

func (e *evaluator) serverChecks() {
	df := e.f.docker
	ct := Check{ID: CheckServerContainer, Area: AreaServer}
	tc := Check{ID: CheckServerTranscoding, Area: AreaServer}
	switch {
	case df.Info == nil && (df.NoDaemon != "" || df.PingErr != nil || df.Endpoint == ""):
		ct.Status, ct.Finding = StatusSkip, "Docker daemon not reachable"
		tc.Status, tc.Finding = StatusSkip, "Docker daemon not reachable"
	case df.ListErr != nil:
		ct.Status, ct.Finding = StatusSkip, "cannot list containers (see ml-container)"
		tc.Status, tc.Finding = StatusSkip, "no container to read logs from"
	case df.Server == nil:
		ct.Status, ct.Finding = StatusSkip, "no Immich server container on this Docker host"
		tc.Status, tc.Finding = StatusSkip, "no container to read logs from"
	case df.Server.State != "running":
		s := df.Server
		ct.Status = StatusWarn
		ct.Finding = fmt.Sprintf("%s (%s) is %s", s.Name(), s.Image, s.State)
		ct.Fix = "Start it (docker compose up -d) and look at `docker logs " + s.Name() + "` if it stops again."
		tc.Status, tc.Finding = StatusSkip, "the container is not running"
	default:
		s := df.Server
		ct.Status = StatusOK
		ct.Finding = fmt.Sprintf("%s running image %s", s.Name(), s.Image)
		e.serverLogCheck(&tc, s)
	}
	e.add(ct, tc)
	e.immichSettingCheck()
}

func (e *evaluator) serverLogCheck(c *Check, s *docker.Container) {
	df := e.f.docker
	if df.ServerLogsErr != nil {
		c.Status = StatusWarn
		c.Finding = "cannot read the container's logs: " + df.ServerLogsErr.Error()
		c.Fix = "Check with `docker logs " + s.Name() + " 2>&1 | grep -i transcod`."
		return
	}
	lf := analyzeServerLogs(df.ServerLogs)
	for _, l := range lf.Errors {
		c.Detail = append(c.Detail, "log: Error occurred during transcoding: "+l)
	}
	for _, l := range lf.MatchedLines {
		c.Detail = append(c.Detail, "log: "+l)
	}
	switch {
	case lf.FallbackFrom != "":
		c.Status = StatusFail
		c.Finding = fmt.Sprintf("hardware transcoding with %s failed and Immich retried with it disabled (on the CPU)", strings.ToUpper(lf.FallbackFrom))
		if len(lf.Matched) > 0 {
			c.Finding += ": " + lf.Matched[0].meaning
			c.Fix = lf.Matched[0].fix
		} else {
			c.Fix = "See the log lines above; check the compose file's transcoding section (compose-transcode) and Immich's Acceleration API setting."
		}
	case len(lf.Matched) > 0:
		c.Status = StatusFail
		c.Finding = lf.Matched[0].meaning
		c.Fix = lf.Matched[0].fix
	case lf.UsedAccel != "" && !lf.Software:
		c.Status = StatusOK
		c.Finding = "Immich transcodes with " + strings.ToUpper(lf.UsedAccel) + " and logged no transcoding error"
	case len(lf.Errors) > 0:
		c.Status = StatusWarn
		c.Finding = "software transcoding failed: " + lf.Errors[0]
		c.Fix = "See `docker logs " + s.Name() + "`; a video the CPU cannot transcode is a file or codec problem, not acceleration."
	default:
		c.Status = StatusSkip
		c.Finding = "no hardware transcoding in the recent logs (no video transcoded since the container started, or acceleration disabled)"
	}
}

// immichSettingCheck compares Immich's Acceleration API setting (read
// through the server API) with the compose file's transcoding section.
func (e *evaluator) immichSettingCheck() {
	c := Check{ID: CheckImmichTranscodeSetting, Area: AreaServer}
	im := e.f.immich
	if !im.Asked {
		c.Status = StatusSkip
		c.Finding = "not read: pass --immich-url URL with IMMICH_API_KEY set to compare Immich's Acceleration API setting with the compose file"
		e.add(c)
		return
	}
	if im.Err != nil {
		c.Status = StatusWarn
		c.Finding = "cannot read Immich's settings from " + im.Endpoint + ": " + im.Err.Error()
		switch {
		case errors.Is(im.Err, immich.ErrUnauthorized):
			c.Fix = "Check IMMICH_API_KEY: create a key under Account Settings → API Keys."
		case errors.Is(im.Err, immich.ErrForbidden):
			c.Fix = "Use an admin's API key with the systemConfig.read permission."
		case errors.Is(im.Err, immich.ErrNotImmich):
			c.Fix = "Point --immich-url at Immich itself (the address of its web UI, e.g. http://host:2283)."
		default:
			c.Fix = "Check --immich-url (the address of Immich's web UI, e.g. http://host:2283)."
		}
		e.add(c)
		return
	}
	got := accel.FFmpegAccel(im.FFmpeg.Accel)
	decode := "software decoding"
	if im.FFmpeg.AccelDecode {
		decode = "hardware decoding"
	}
	setting := fmt.Sprintf("Acceleration API %s (ffmpeg.accel %s), %s", got.AdminLabel(), got, decode)
	c.Detail = append(c.Detail, "read from "+im.Endpoint)
	method, fits := composeTranscodeMethod(e.f.deploy.In)
	switch {
	case e.f.deploy.In == nil || e.f.deploy.In.Transcoding == nil:
		c.Status, c.Finding = StatusOK, "Immich: "+setting+" (no compose file to compare with)"
	case method == "":
		c.Status, c.Finding = StatusOK, "Immich: "+setting+" (the compose file's section comes from a variable)"
	case got == accel.AccelDisabled && method != string(accel.TranscodeCPU):
		c.Status = StatusWarn
		c.Finding = fmt.Sprintf("the compose file gives the server %s, but Immich's Acceleration API is Disabled: videos are transcoded on the CPU", method)
		c.Fix = "Set " + accel.AdminSetting + ": " + fits[0].AdminLabel() + "."
	case !containsAccel(fits, got):
		c.Status = StatusFail
		want := fits[0]
		c.Finding = fmt.Sprintf("Immich's Acceleration API is %s, but the compose file configures %s", got.AdminLabel(), method)
		if want == accel.AccelDisabled {
			c.Finding += " (no device passed through): every transcode fails and is retried on the CPU"
			m := transcodeFor(got, e.f.platform.WSL)
			c.Fix = "it gives the server the " + m + " section; or set " + accel.AdminSetting + ": Disabled."
			c.Run = e.transcodeRun(m)
		} else {
			c.Fix = "Set " + accel.AdminSetting + ": " + want.AdminLabel() + "."
		}
	default:
		c.Status, c.Finding = StatusOK, "Immich: "+setting+", matching the compose file ("+method+")"
	}
	if im.FFmpeg.AccelDecode && (got == accel.AccelQSV || got == accel.AccelVAAPI) {
		c.Detail = append(c.Detail, "hardware decoding is on; if some videos fail to transcode, turn it off (Immich retries with software decoding first)")
	}
	e.add(c)
}

func containsAccel(as []accel.FFmpegAccel, a accel.FFmpegAccel) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

// transcodeFor is the section an ffmpeg.accel value needs on this host.
func transcodeFor(a accel.FFmpegAccel, wsl bool) string {
	ts := accel.TranscodesFor(a)
	if len(ts) == 0 {
		return string(accel.TranscodeCPU)
	}
	if wsl {
		for _, t := range ts {
			if t == accel.VAAPIWSL {
				return string(t)
			}
		}
	}
	return string(ts[0])
}
