// Package verify proves, on a running Immich machine-learning server, that
// the accelerator does the work: it speaks Immich's ML protocol (GET /ping,
// POST /predict), measures cold and warm latency under a chosen
// concurrency, watches the device and the container's CPU time while the
// requests run, reads the logs written meanwhile, and gives a verdict. It
// never prints: Run returns a Report.
package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// Immich's default model names (server/src/config.ts, as quoted in the
// protocol note ml-protocol.md §5).
const (
	DefaultCLIPModel = "ViT-B-32__openai"
	DefaultFaceModel = "buffalo_l"
)

// Embedding lengths Immich's models produce: ViT-B-32 has 512 dimensions
// (ml-protocol.md §5), and face recognition crops to 112×112 and yields a
// 512-dimensional embedding for every face model (ml-protocol.md §4).
const (
	defaultCLIPDim = 512
	faceDim        = 512
)

// faceMinScore makes a black image yield about one face: the method of
// Immich's own load test, machine-learning/locustfile.py (ml-protocol.md §1
// example C and §4).
const faceMinScore = 0.034

// TaskName names one kind of request.
type TaskName string

// The tasks verify sends, in the order it sends them.
const (
	TaskCLIPVisual  TaskName = "clip-visual"
	TaskCLIPTextual TaskName = "clip-textual"
	TaskFaces       TaskName = "faces"
)

// Models are the model names sent in the entries.
type Models struct {
	CLIP string
	Face string
}

// task is one request kind: the body it sends and how its answer is checked.
type task struct {
	name        TaskName
	model       string
	body        []byte
	contentType string
	// check validates a 200 answer and returns a note (e.g. the embedding
	// length) or an error saying what is wrong with its shape.
	check func(body []byte) (string, error)
}

// tasks builds the three requests. clipDim is the embedding length
// expected from the CLIP model (0: any, as long as visual and textual agree
// is checked by the caller).
func tasks(m Models) ([]task, error) {
	clipDim := 0
	if m.CLIP == DefaultCLIPModel {
		clipDim = defaultCLIPDim
	}
	visualImg, vw, vh := clipImage()
	faceImg, fw, fh := faceImage()
	visual, vct, err := multipartBody(map[string]any{"clip": map[string]any{"visual": map[string]any{"modelName": m.CLIP}}}, "", visualImg)
	if err != nil {
		return nil, err
	}
	// The server sends options.language; the ML server drops it (§1).
	textual, tct, err := multipartBody(map[string]any{"clip": map[string]any{"textual": map[string]any{"modelName": m.CLIP, "options": map[string]any{"language": "en"}}}}, "a photo of a dog on a beach", nil)
	if err != nil {
		return nil, err
	}
	faces, fct, err := multipartBody(map[string]any{"facial-recognition": map[string]any{
		"detection":   map[string]any{"modelName": m.Face, "options": map[string]any{"minScore": faceMinScore}},
		"recognition": map[string]any{"modelName": m.Face},
	}}, "", faceImg)
	if err != nil {
		return nil, err
	}
	return []task{
		{name: TaskCLIPVisual, model: m.CLIP, body: visual, contentType: vct, check: func(b []byte) (string, error) { return checkCLIP(b, clipDim, vw, vh) }},
		{name: TaskCLIPTextual, model: m.CLIP, body: textual, contentType: tct, check: func(b []byte) (string, error) { return checkCLIP(b, clipDim, 0, 0) }},
		{name: TaskFaces, model: m.Face, body: faces, contentType: fct, check: func(b []byte) (string, error) { return checkFaces(b, fw, fh) }},
	}, nil
}

// multipartBody encodes a /predict request as Immich's server sends it: the
// entries JSON as a form field and the image as a file part named "blob"
// (ml-protocol.md §1), or the text as a form field.
func multipartBody(entries map[string]any, text string, image []byte) ([]byte, string, error) {
	ej, err := json.Marshal(entries)
	if err != nil {
		return nil, "", fmt.Errorf("encoding entries: %w", err)
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if err := w.WriteField("entries", string(ej)); err != nil {
		return nil, "", err
	}
	if image != nil {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="image"; filename="blob"`)
		h.Set("Content-Type", "application/octet-stream")
		p, err := w.CreatePart(h)
		if err != nil {
			return nil, "", err
		}
		if _, err := p.Write(image); err != nil {
			return nil, "", err
		}
	} else if err := w.WriteField("text", text); err != nil {
		return nil, "", err
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}

// ShapeError says what is wrong with a 200 answer.
type ShapeError struct {
	Problem string
	Body    string // the start of the answer
}

func (e *ShapeError) Error() string {
	return fmt.Sprintf("malformed answer: %s; body: %s", e.Problem, e.Body)
}

func shapeErr(body []byte, format string, a ...any) error {
	return &ShapeError{Problem: fmt.Sprintf(format, a...), Body: snippet(body)}
}

// snippet is the start of a body, for messages.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	s = strings.ToValidUTF8(s, "?")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	if s == "" {
		return "(empty)"
	}
	return s
}

// embedding checks an embedding, which Immich sends as a string holding a
// JSON array of floats (ml-protocol.md §1), and returns its length.
func embedding(v json.RawMessage) (int, error) {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return 0, errors.New("the embedding is not a string holding a JSON array")
	}
	return floatArray(s)
}

// floatArray checks that s is a JSON array of finite numbers and returns
// its length. It is the load generator's hot path (every warm answer holds
// one or more), so it scans the text instead of decoding it through
// reflection.
func floatArray(s string) (int, error) {
	s = trimJSONSpace(s)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return 0, errors.New("the embedding string is not a JSON array of numbers")
	}
	body := trimJSONSpace(s[1 : len(s)-1])
	if body == "" {
		return 0, nil
	}
	n := 0
	for more := true; more; {
		var item string
		item, body, more = strings.Cut(body, ",")
		item = trimJSONSpace(item)
		if !jsonNumber(item) {
			return 0, fmt.Errorf("the embedding string holds %q, not a number", snippet([]byte(item)))
		}
		// Without an exponent, a number has too few digits to overflow a
		// float64; only exponents need parsing.
		if strings.ContainsAny(item, "eE") {
			x, err := strconv.ParseFloat(item, 64)
			if err != nil || math.IsInf(x, 0) {
				return 0, fmt.Errorf("the embedding string holds %q, not a finite number", snippet([]byte(item)))
			}
		}
		n++
	}
	return n, nil
}

// trimJSONSpace trims the whitespace JSON allows between tokens.
func trimJSONSpace(s string) string { return strings.Trim(s, " \t\r\n") }

// jsonNumber reports whether s has the form of a JSON number (which
// excludes NaN, Infinity, hex and a leading plus that ParseFloat takes).
func jsonNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - j
	}
	start := i
	if digits() == 0 || (s[start] == '0' && i-start > 1) {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

func checkCLIP(body []byte, dim, w, h int) (string, error) {
	var r struct {
		CLIP        json.RawMessage `json:"clip"`
		ImageHeight *int            `json:"imageHeight"`
		ImageWidth  *int            `json:"imageWidth"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return "", shapeErr(body, "not a JSON object: %v", err)
	}
	if r.CLIP == nil {
		return "", shapeErr(body, `no "clip" field`)
	}
	n, err := embedding(r.CLIP)
	if err != nil {
		return "", shapeErr(body, `"clip": %v`, err)
	}
	switch {
	case n == 0:
		return "", shapeErr(body, `"clip" is an empty embedding`)
	case dim > 0 && n != dim:
		return "", shapeErr(body, `"clip" has %d values, want %d`, n, dim)
	}
	if w > 0 {
		if r.ImageWidth == nil || r.ImageHeight == nil {
			return "", shapeErr(body, "no imageWidth/imageHeight")
		}
		if *r.ImageWidth != w || *r.ImageHeight != h {
			return "", shapeErr(body, "imageWidth×imageHeight %d×%d, sent %d×%d", *r.ImageWidth, *r.ImageHeight, w, h)
		}
	}
	return fmt.Sprintf("%d-dimensional embedding", n), nil
}

func checkFaces(body []byte, w, h int) (string, error) {
	var r struct {
		Faces *[]struct {
			BoundingBox *struct {
				X1, Y1, X2, Y2 *float64
			} `json:"boundingBox"`
			Embedding json.RawMessage `json:"embedding"`
			Score     *float64        `json:"score"`
		} `json:"facial-recognition"`
		ImageHeight *int `json:"imageHeight"`
		ImageWidth  *int `json:"imageWidth"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return "", shapeErr(body, "not a JSON object of faces: %v", err)
	}
	if r.Faces == nil {
		return "", shapeErr(body, `no "facial-recognition" list`)
	}
	if r.ImageWidth == nil || r.ImageHeight == nil || *r.ImageWidth != w || *r.ImageHeight != h {
		return "", shapeErr(body, "imageWidth×imageHeight missing or not the %d×%d sent", w, h)
	}
	for i, f := range *r.Faces {
		if f.BoundingBox == nil || f.BoundingBox.X1 == nil || f.BoundingBox.Y1 == nil || f.BoundingBox.X2 == nil || f.BoundingBox.Y2 == nil {
			return "", shapeErr(body, "face %d has no boundingBox x1/y1/x2/y2", i)
		}
		if f.Score == nil {
			return "", shapeErr(body, "face %d has no score", i)
		}
		n, err := embedding(f.Embedding)
		if err != nil {
			return "", shapeErr(body, "face %d: %v", i, err)
		}
		if n != faceDim {
			return "", shapeErr(body, "face %d's embedding has %d values, want %d", i, n, faceDim)
		}
	}
	n := len(*r.Faces)
	if n == 0 {
		return "no face found, so recognition did not run", nil
	}
	return fmt.Sprintf("%d face(s), %d-dimensional embeddings", n, faceDim), nil
}

// StatusError is an answer other than 200.
type StatusError struct {
	Status int
	Body   string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, http.StatusText(e.Status), e.Body)
}

// TimeoutError is a request that got no complete answer in time.
type TimeoutError struct{ After time.Duration }

func (e *TimeoutError) Error() string { return fmt.Sprintf("no answer within %s", e.After) }

// client sends requests to one ML server.
type client struct {
	base string
	http *http.Client
}

func newClient(base string, conns int) *client {
	tr := &http.Transport{
		MaxIdleConns:        conns + 2,
		MaxIdleConnsPerHost: conns + 2,
		MaxConnsPerHost:     0,
		IdleConnTimeout:     time.Second, // the server closes idle ones after 2 s (ml-protocol.md §7)
		DisableCompression:  true,
	}
	return &client{base: strings.TrimRight(base, "/"), http: &http.Client{Transport: tr}}
}

func (c *client) close() { c.http.CloseIdleConnections() }

// do sends one prediction and checks its answer. timeout bounds the whole
// exchange; ctx ending first is returned as ctx's error.
func (c *client) do(ctx context.Context, t *task, timeout time.Duration) (string, error) {
	body, err := c.send(ctx, t, timeout)
	if err != nil {
		return "", err
	}
	return t.check(body)
}

// send sends one prediction and returns the body of a 200 answer.
func (c *client) send(ctx context.Context, t *task, timeout time.Duration) ([]byte, error) {
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, c.base+"/predict", bytes.NewReader(t.body))
	if err != nil {
		return nil, fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set("Content-Type", t.contentType)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.failure(ctx, rctx, timeout, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, c.failure(ctx, rctx, timeout, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &StatusError{Status: resp.StatusCode, Body: snippet(body)}
	}
	return body, nil
}

func (c *client) failure(ctx, rctx context.Context, timeout time.Duration, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if rctx.Err() != nil {
		return &TimeoutError{After: timeout}
	}
	return fmt.Errorf("POST %s/predict: %w", c.base, unwrapURL(err))
}

// NotMLError says that nothing answered at URL like an Immich ML server.
type NotMLError struct {
	URL      string
	Answered string // what answered instead, or why nothing did
	Err      error
}

func (e *NotMLError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("no Immich ML server answers at %s: %s", e.URL, e.Answered)
	}
	return fmt.Sprintf("%s is not an Immich ML server: %s", e.URL, e.Answered)
}

func (e *NotMLError) Unwrap() error { return e.Err }

// ping checks that base answers GET /ping with "pong", as Immich's server
// and the container's healthcheck do (ml-protocol.md §2). For anything
// else it says what answered, with GET / when that helps.
func ping(ctx context.Context, hc *http.Client, base string, timeout time.Duration) error {
	base = strings.TrimRight(base, "/")
	status, body, err := get(ctx, hc, base+"/ping", timeout)
	if err != nil {
		return &NotMLError{URL: base, Answered: err.Error(), Err: err}
	}
	if status == http.StatusOK && strings.TrimSpace(string(body)) == "pong" {
		return nil
	}
	answered := fmt.Sprintf("GET /ping answered HTTP %d: %s", status, snippet(body))
	if s, b, err := get(ctx, hc, base+"/", timeout); err == nil {
		var m struct {
			Message string `json:"message"`
		}
		if s == http.StatusOK && json.Unmarshal(b, &m) == nil && m.Message == "Immich ML" {
			answered += ` (GET / says "Immich ML", so it is Immich's ML server, but /ping does not answer "pong")`
		}
	}
	return &NotMLError{URL: base, Answered: answered}
}

func get(ctx context.Context, hc *http.Client, u string, timeout time.Duration) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, &TimeoutError{After: timeout}
		}
		return 0, nil, unwrapURL(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, &TimeoutError{After: timeout}
		}
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}
