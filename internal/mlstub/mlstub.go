// Package mlstub is a stand-in for Immich's machine-learning server, written
// from its HTTP protocol (GET /, GET /ping, POST /predict with multipart
// entries; see Immich's machine-learning/immich_ml/main.py). It answers with
// the shapes the real server emits, rejects requests the way it does, logs
// the lines it logs when it loads a model, and can be told to fail: error
// statuses, slow or hanging answers, malformed JSON, a closed connection.
// Tests run it in-process and, built by cmd/mlstub, as a container.
package mlstub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg" // the images Immich's server sends are JPEG previews
	_ "image/png"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fault is how the stand-in misbehaves for one task.
type Fault struct {
	// After lets this many requests of the task succeed first.
	After int
	// Status answers with this status and Body (Immich's 500 body is
	// "Internal Server Error").
	Status int
	Body   string
	// Delay waits this long before answering.
	Delay time.Duration
	// Hang never answers (until the client gives up).
	Hang bool
	// Malformed answers 200 with JSON of the wrong shape.
	Malformed bool
	// Close closes the connection without answering.
	Close bool
}

// Config configures the stand-in.
type Config struct {
	// Providers are logged when a model loads ("Setting execution
	// providers to [...]"); default CPUExecutionProvider.
	Providers []string
	// Faults by task: "clip-visual", "clip-textual", "faces", or "ping".
	Faults map[string]Fault
	// CLIPDim is the CLIP embedding length (default 512).
	CLIPDim int
	// TextDim, when set, makes textual embeddings this long instead.
	TextDim int
	// Log receives the server's log lines; nil discards them.
	Log io.Writer
	// Work is how long each prediction takes (default none), as a sleep.
	Work time.Duration
}

// Server is the stand-in's http.Handler.
type Server struct {
	cfg Config

	mu       sync.Mutex
	loaded   map[string]bool
	counts   map[string]int
	hang     chan struct{}
	inFlight map[string]int
	maxIn    map[string]int
}

// New returns a stand-in server.
func New(cfg Config) *Server {
	if len(cfg.Providers) == 0 {
		cfg.Providers = []string{"CPUExecutionProvider"}
	}
	if cfg.CLIPDim == 0 {
		cfg.CLIPDim = 512
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	return &Server{cfg: cfg, loaded: map[string]bool{}, counts: map[string]int{}, hang: make(chan struct{}),
		inFlight: map[string]int{}, maxIn: map[string]int{}}
}

// Close releases hanging requests.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.hang:
	default:
		close(s.hang)
	}
}

// MaxInFlight returns the most requests of a task the stand-in was
// answering at once.
func (s *Server) MaxInFlight(task string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxIn[task]
}

// Count returns how many requests of a task the stand-in received.
func (s *Server) Count(task string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[task]
}

// knownModels are a few of the names Immich accepts
// (machine-learning/immich_ml/models/constants.py).
var knownModels = map[string]bool{
	"ViT-B-32__openai": true, "ViT-B-16__openai": true, "ViT-L-14__openai": true,
	"XLM-Roberta-Large-Vit-B-16Plus": true, "nllb-clip-base-siglip__v1": true,
	"buffalo_l": true, "buffalo_s": true, "antelopev2": true,
}

func (s *Server) logf(format string, a ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.cfg.Log, "[%s] INFO     %s\n", time.Now().Format("01/02/06 15:04:05"), fmt.Sprintf(format, a...))
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]string{"message": "Immich ML"})
	case r.URL.Path == "/ping" && r.Method == http.MethodGet:
		if s.fault(w, r, "ping") {
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "pong")
	case r.URL.Path == "/predict" && r.Method == http.MethodPost:
		s.predict(w, r)
	case r.URL.Path == "/" || r.URL.Path == "/ping" || r.URL.Path == "/predict":
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"detail": "Method Not Allowed"})
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Not Found"})
	}
}

// fault applies the task's fault, if any is due; true when it answered.
func (s *Server) fault(w http.ResponseWriter, r *http.Request, task string) bool {
	s.mu.Lock()
	s.counts[task]++
	n := s.counts[task]
	f, ok := s.cfg.Faults[task]
	s.mu.Unlock()
	if !ok || n <= f.After {
		return false
	}
	if f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
			return true
		case <-s.hang:
			return true
		}
	}
	switch {
	case f.Hang:
		select {
		case <-r.Context().Done():
		case <-s.hang:
		}
		return true
	case f.Close:
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				_ = c.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler)
	case f.Status != 0:
		body := f.Body
		if body == "" {
			body = "Internal Server Error"
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, body)
		return true
	case f.Malformed:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"clip":[0.1,0.2`)
		return true
	}
	return false
}

type entry struct {
	ModelName *string        `json:"modelName"`
	Options   map[string]any `json:"options"`
}

func (s *Server) predict(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseMultipartForm(64 << 20); err != nil {
		if err := r.ParseForm(); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "There was an error parsing the body"})
			return
		}
	}
	raw, ok := r.Form["entries"]
	if !ok {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": []map[string]any{{"type": "missing", "loc": []string{"body", "entries"}, "msg": "Field required", "input": nil}}})
		return
	}
	var entries map[string]map[string]entry
	if err := json.Unmarshal([]byte(raw[0]), &entries); err != nil || len(entries) == 0 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"detail": "Invalid request format."})
		return
	}
	for _, types := range entries {
		for _, e := range types {
			if e.ModelName == nil {
				writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"detail": "Invalid request format."})
				return
			}
		}
	}
	var img []byte
	if f, _, err := r.FormFile("image"); err == nil {
		img, _ = io.ReadAll(f)
		_ = f.Close()
	}
	text := r.FormValue("text")
	if img == nil && text == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "Either image or text must be provided"})
		return
	}
	task := taskOf(entries, img != nil)
	s.mu.Lock()
	s.inFlight[task]++
	s.maxIn[task] = max(s.maxIn[task], s.inFlight[task])
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight[task]--
		s.mu.Unlock()
	}()
	if s.fault(w, r, task) {
		return
	}
	out := map[string]any{}
	var iw, ih int
	if img != nil {
		cfg, _, err := image.DecodeConfig(bytes.NewReader(img))
		if err != nil {
			http.Error(w, "Internal Server Error", http.StatusInternalServerError)
			return
		}
		iw, ih = cfg.Width, cfg.Height
	}
	for taskName, types := range entries {
		for typ, e := range types {
			if !knownModels[*e.ModelName] || !knownTask(taskName, typ) {
				http.Error(w, "Internal Server Error", http.StatusInternalServerError)
				return
			}
			s.load(typ, *e.ModelName)
		}
	}
	if s.cfg.Work > 0 {
		time.Sleep(s.cfg.Work)
	}
	if c, ok := entries["clip"]; ok {
		dim := s.cfg.CLIPDim
		if _, ok := c["textual"]; ok && s.cfg.TextDim > 0 {
			dim = s.cfg.TextDim
		}
		out["clip"] = vector(dim, len(text)+iw)
	}
	if fr, ok := entries["facial-recognition"]; ok {
		det, ok := fr["detection"]
		if !ok {
			writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "Task facial-recognition of type recognition depends on output of (<ModelType.DETECTION: 'detection'>, <ModelTask.FACIAL_RECOGNITION: 'facial-recognition'>)"})
			return
		}
		minScore := 0.7
		if v, ok := det.Options["minScore"].(float64); ok {
			minScore = v
		}
		// A black image yields one face of score 0.0357 (Immich's
		// responses.json for a black 600×800 JPEG).
		const score = 0.03575617
		faces := []map[string]any{}
		if minScore <= score {
			face := map[string]any{"boundingBox": map[string]float64{"x1": 690, "y1": -89, "x2": 833, "y2": 96}, "score": score}
			if _, ok := fr["recognition"]; ok {
				face["embedding"] = vector(512, 7)
			}
			faces = append(faces, face)
		}
		out["facial-recognition"] = faces
	}
	if img != nil {
		out["imageHeight"], out["imageWidth"] = ih, iw
	}
	writeJSON(w, http.StatusOK, out)
}

func knownTask(task, typ string) bool {
	switch task {
	case "clip":
		return typ == "visual" || typ == "textual"
	case "facial-recognition", "ocr":
		return typ == "detection" || typ == "recognition"
	}
	return false
}

// taskOf names the request's task for faults and counts.
func taskOf(entries map[string]map[string]entry, image bool) string {
	if _, ok := entries["facial-recognition"]; ok {
		return "faces"
	}
	if image {
		return "clip-visual"
	}
	return "clip-textual"
}

// load logs what Immich logs the first time a model is used
// (models/base.py, sessions/ort.py).
func (s *Server) load(typ, name string) {
	s.mu.Lock()
	key := typ + "/" + name
	first := !s.loaded[key]
	s.loaded[key] = true
	s.mu.Unlock()
	if !first {
		return
	}
	quoted := make([]string, len(s.cfg.Providers))
	for i, p := range s.cfg.Providers {
		quoted[i] = "'" + p + "'"
	}
	s.logf("Loading %s model '%s' to memory", typ, name)
	s.logf("Setting execution providers to [%s], in descending order of preference", strings.Join(quoted, ", "))
}

// vector is an embedding as Immich sends it: a string holding a JSON array.
func vector(n, seed int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatFloat(float64((i*31+seed)%97)/97-0.5, 'g', 8, 32))
	}
	b.WriteByte(']')
	return b.String()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
