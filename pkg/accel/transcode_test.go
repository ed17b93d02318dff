package accel

import "testing"

func TestParseTranscode(t *testing.T) {
	names := TranscodeNames()
	if len(names) != 6 || names[len(names)-1] != TranscodeCPU {
		t.Fatalf("names = %v, want 6 with cpu last", names)
	}
	for _, n := range names {
		got, ok := ParseTranscode(string(n))
		if !ok || got != n || !n.Valid() {
			t.Errorf("ParseTranscode(%q) = %q, %v", n, got, ok)
		}
	}
	for _, bad := range []string{"qsv", "cuda", "NVENC", ""} {
		if _, ok := ParseTranscode(bad); ok {
			t.Errorf("ParseTranscode accepted %q", bad)
		}
	}
}

func TestTranscodeAccel(t *testing.T) {
	want := map[Transcode]FFmpegAccel{NVENC: AccelNVENC, QuickSync: AccelQSV, VAAPI: AccelVAAPI, VAAPIWSL: AccelVAAPI, RKMPP: AccelRKMPP, TranscodeCPU: AccelDisabled}
	for tr, a := range want {
		if got := tr.Accel(); got != a {
			t.Errorf("%s.Accel() = %q, want %q", tr, got, a)
		}
	}
	if got := TranscodesFor(AccelVAAPI); len(got) != 2 || got[0] != VAAPI || got[1] != VAAPIWSL {
		t.Errorf("TranscodesFor(vaapi) = %v", got)
	}
	if Transcode("x").Accel() != "" {
		t.Error("unknown method has an accel value")
	}
	for _, i := range Transcodes() {
		if i.Hardware == "" || i.Source == "" || i.Accel.AdminLabel() == "" {
			t.Errorf("%s: incomplete row %+v", i.Transcode, i)
		}
	}
	if AccelQSV.AdminLabel() != "Quick Sync" {
		t.Errorf("qsv label %q", AccelQSV.AdminLabel())
	}
}
