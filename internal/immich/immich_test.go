package immich

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// server answers like Immich's GET /api/system-config (an excerpt of the
// real shape: every section, ffmpeg with its accel fields among others).
func server(t *testing.T, status int, body string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/system-config" || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("x-api-key") != "secret" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"message":"Invalid API key","error":"Unauthorized","statusCode":401}`))
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(s.Close)
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Fatalf("test server not on loopback: %s", s.URL)
	}
	return s
}

const config = `{"backup":{"database":{"enabled":true}},"ffmpeg":{"crf":23,"threads":0,"preset":"ultrafast","targetVideoCodec":"h264","acceptedVideoCodecs":["h264"],"targetAudioCodec":"aac","targetResolution":"720","maxBitrate":"0","bframes":-1,"refs":0,"gopSize":0,"temporalAQ":false,"cqMode":"auto","twoPass":false,"preferredHwDevice":"auto","transcode":"required","accel":"nvenc","accelDecode":true,"tonemap":"hable"},"machineLearning":{"enabled":true}}`

func TestFFmpeg(t *testing.T) {
	s := server(t, http.StatusOK, config)
	for _, u := range []string{s.URL, s.URL + "/", s.URL + "/api", s.URL + "/api/"} {
		c, err := New(u, "secret", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.FFmpeg(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if got.Accel != "nvenc" || !got.AccelDecode {
			t.Errorf("%s: got %+v", u, got)
		}
		if strings.Contains(c.Endpoint(), "secret") {
			t.Error("endpoint shows the key")
		}
	}
}

func TestFFmpegErrors(t *testing.T) {
	ok := server(t, http.StatusOK, config)
	c, _ := New(ok.URL, "wrong", time.Second)
	if _, err := c.FFmpeg(context.Background()); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("wrong key: %v", err)
	}
	forb := server(t, http.StatusForbidden, `{"message":"Missing required permission: systemConfig.read"}`)
	c, _ = New(forb.URL, "secret", time.Second)
	if _, err := c.FFmpeg(context.Background()); !errors.Is(err, ErrForbidden) {
		t.Errorf("403: %v", err)
	}
	html := server(t, http.StatusOK, `<html>a proxy login page</html>`)
	c, _ = New(html.URL, "secret", time.Second)
	if _, err := c.FFmpeg(context.Background()); !errors.Is(err, ErrNotImmich) {
		t.Errorf("html: %v", err)
	}
	other := server(t, http.StatusOK, `{"ffmpeg":{}}`)
	c, _ = New(other.URL, "secret", time.Second)
	if _, err := c.FFmpeg(context.Background()); !errors.Is(err, ErrNotImmich) {
		t.Errorf("no accel: %v", err)
	}
	// A server that never answers costs the timeout, not forever.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	c, _ = New(hang.URL, "secret", 100*time.Millisecond)
	start := time.Now()
	if _, err := c.FFmpeg(context.Background()); err == nil {
		t.Error("hanging server: no error")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("hanging server took %s", d)
	}
}

func TestNew(t *testing.T) {
	for _, bad := range []string{"", "192.168.1.10:2283", "ftp://x", "http://"} {
		if _, err := New(bad, "k", time.Second); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
	if _, err := New("http://127.0.0.1:2283", "", time.Second); err == nil || !strings.Contains(err.Error(), APIKeyEnv) {
		t.Errorf("no key: %v", err)
	}
}
