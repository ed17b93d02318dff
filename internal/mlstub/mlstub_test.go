package mlstub

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func form(t *testing.T, fields map[string]string) (*bytes.Buffer, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return &b, w.FormDataContentType()
}

// The stand-in answers as Immich's ML server does (the status codes of
// machine-learning/immich_ml/main.py as the protocol note lists them).
func TestProtocol(t *testing.T) {
	var logs bytes.Buffer
	srv := httptest.NewServer(New(Config{Log: &logs}))
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if s, b := get("/ping"); s != 200 || b != "pong" {
		t.Errorf("GET /ping = %d %q", s, b)
	}
	if s, b := get("/"); s != 200 || !strings.Contains(b, `"message":"Immich ML"`) {
		t.Errorf("GET / = %d %q", s, b)
	}
	if s, _ := get("/nope"); s != 404 {
		t.Errorf("GET /nope = %d", s)
	}
	if s, _ := get("/predict"); s != 405 {
		t.Errorf("GET /predict = %d", s)
	}
	cases := []struct {
		name   string
		fields map[string]string
		status int
		body   string
	}{
		{"no entries", map[string]string{"text": "x"}, 422, `"Field required"`},
		{"bad entries", map[string]string{"entries": "{", "text": "x"}, 422, "Invalid request format."},
		{"no modelName", map[string]string{"entries": `{"clip":{"textual":{}}}`, "text": "x"}, 422, "Invalid request format."},
		{"neither image nor text", map[string]string{"entries": `{"clip":{"textual":{"modelName":"ViT-B-32__openai"}}}`}, 400, "Either image or text must be provided"},
		{"unknown model", map[string]string{"entries": `{"clip":{"textual":{"modelName":"nope"}}}`, "text": "x"}, 500, "Internal Server Error"},
		{"recognition without detection", map[string]string{"entries": `{"facial-recognition":{"recognition":{"modelName":"buffalo_l"}}}`, "text": "x"}, 400, "depends on output of"},
		{"textual", map[string]string{"entries": `{"clip":{"textual":{"modelName":"ViT-B-32__openai","options":{"language":"en"}}}}`, "text": "a dog"}, 200, `"clip":"[`},
	}
	for _, tc := range cases {
		body, ct := form(t, tc.fields)
		resp, err := http.Post(srv.URL+"/predict", ct, body)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.body) {
			t.Errorf("%s: %d %s; want %d with %q", tc.name, resp.StatusCode, b, tc.status, tc.body)
		}
		if tc.status == 200 {
			var r struct{ CLIP string }
			var e []float64
			if json.Unmarshal(b, &r) != nil || json.Unmarshal([]byte(r.CLIP), &e) != nil || len(e) != 512 {
				t.Errorf("%s: the embedding is not a string holding 512 numbers: %.80s", tc.name, b)
			}
		}
	}
	if !strings.Contains(logs.String(), "Setting execution providers to ['CPUExecutionProvider'], in descending order of preference") {
		t.Errorf("no provider line logged:\n%s", logs.String())
	}
}
