package accel

// Transcode is a section of Immich's hwaccel.transcoding.yml, which is also
// what `compose --transcode` takes.
type Transcode string

// The transcoding methods, as named by the services of Immich's
// docker/hwaccel.transcoding.yml
// (https://github.com/immich-app/immich/blob/main/docker/hwaccel.transcoding.yml,
// documented at https://docs.immich.app/features/hardware-transcoding).
const (
	NVENC     Transcode = "nvenc"
	QuickSync Transcode = "quicksync"
	VAAPI     Transcode = "vaapi"
	VAAPIWSL  Transcode = "vaapi-wsl"
	RKMPP     Transcode = "rkmpp"
	// TranscodeCPU is Immich's empty cpu section: software transcoding.
	TranscodeCPU Transcode = "cpu"
)

// FFmpegAccel is the value of Immich's ffmpeg.accel setting (Administration
// → Settings → Video Transcoding → Hardware Acceleration → Acceleration
// API), as the server's API spells it (server/src/enum.ts,
// TranscodeHardwareAcceleration).
type FFmpegAccel string

// Immich's ffmpeg.accel values.
const (
	AccelNVENC    FFmpegAccel = "nvenc"
	AccelQSV      FFmpegAccel = "qsv"
	AccelVAAPI    FFmpegAccel = "vaapi"
	AccelRKMPP    FFmpegAccel = "rkmpp"
	AccelDisabled FFmpegAccel = "disabled"
)

// AdminLabel is how Immich's web UI names the setting's value in the
// Acceleration API drop-down (web/src/lib/components/admin-settings,
// FFmpegSettings: NVENC, Quick Sync, RKMPP, VAAPI, Disabled).
func (a FFmpegAccel) AdminLabel() string {
	switch a {
	case AccelNVENC:
		return "NVENC"
	case AccelQSV:
		return "Quick Sync"
	case AccelVAAPI:
		return "VAAPI"
	case AccelRKMPP:
		return "RKMPP"
	case AccelDisabled:
		return "Disabled"
	}
	return string(a)
}

// AdminSetting is where the setting is, for people.
const AdminSetting = "Administration → Settings → Video Transcoding → Hardware Acceleration → Acceleration API"

// TranscodeInfo is what immich-accel knows of one transcoding method.
type TranscodeInfo struct {
	Transcode Transcode
	// Accel is the ffmpeg.accel value Immich must be set to for this
	// section to be used (disabled for cpu).
	Accel FFmpegAccel
	// Hardware names what the method runs on, for people.
	Hardware string
	// Source is where the facts come from.
	Source string
}

// transcodes is the table, in the order `compose --transcode` lists them.
// Sections from hwaccel.transcoding.yml (v2.0.1, unchanged since v1.125.7
// for vaapi-wsl's /dev/dxg); the matching Acceleration API from Immich's
// hardware-transcoding page (VAAPI-WSL is VAAPI through WSL2's d3d12
// driver; QuickSync is not supported on WSL2).
func transcodes() []TranscodeInfo {
	const doc = "https://docs.immich.app/features/hardware-transcoding"
	return []TranscodeInfo{
		{NVENC, AccelNVENC, "NVIDIA GPU with an NVENC encoder", doc + " (NVENC; needs the NVIDIA Container Toolkit on Linux)"},
		{QuickSync, AccelQSV, "Intel GPU or iGPU (Quick Sync)", doc + " (QSV; not supported on WSL2)"},
		{VAAPI, AccelVAAPI, "Intel or AMD GPU (VAAPI through /dev/dri)", doc + " (VAAPI)"},
		{VAAPIWSL, AccelVAAPI, "GPU under WSL2 (VAAPI through the d3d12 driver)", doc + " (VAAPI on WSL2: vaapi-wsl section)"},
		{RKMPP, AccelRKMPP, "Rockchip SoC media engine (RKMPP)", doc + " (RKMPP; RK3588 and others with /dev/mpp_service, /dev/rga)"},
		{TranscodeCPU, AccelDisabled, "CPU (software transcoding)", doc},
	}
}

// Transcodes lists every method, hardware ones first and cpu last.
func Transcodes() []TranscodeInfo { return transcodes() }

// TranscodeNames lists the method names in the same order.
func TranscodeNames() []Transcode {
	ts := transcodes()
	out := make([]Transcode, len(ts))
	for i, t := range ts {
		out[i] = t.Transcode
	}
	return out
}

// ParseTranscode returns the method named s, and false when there is none.
func ParseTranscode(s string) (Transcode, bool) {
	for _, t := range transcodes() {
		if string(t.Transcode) == s {
			return t.Transcode, true
		}
	}
	return "", false
}

// Info returns what is known of t; ok is false for a name not in the table.
func (t Transcode) Info() (TranscodeInfo, bool) {
	for _, x := range transcodes() {
		if x.Transcode == t {
			return x, true
		}
	}
	return TranscodeInfo{}, false
}

// Accel is the ffmpeg.accel value t needs ("" for an unknown name).
func (t Transcode) Accel() FFmpegAccel {
	i, _ := t.Info()
	return i.Accel
}

// Valid reports whether t is in the table.
func (t Transcode) Valid() bool {
	_, ok := t.Info()
	return ok
}

// String returns the name.
func (t Transcode) String() string { return string(t) }

// TranscodesFor lists the sections that an ffmpeg.accel value goes with
// (vaapi: vaapi and vaapi-wsl).
func TranscodesFor(a FFmpegAccel) []Transcode {
	var out []Transcode
	for _, t := range transcodes() {
		if t.Accel == a {
			out = append(out, t.Transcode)
		}
	}
	return out
}
