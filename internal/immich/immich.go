// Package immich reads settings from an Immich server's HTTP API. It knows
// one request: the video transcoding part of the system configuration.
package immich

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// APIKeyEnv is the environment variable the API key is read from.
const APIKeyEnv = "IMMICH_API_KEY"

// Errors, for errors.Is.
var (
	// ErrUnauthorized: the server refused the API key (HTTP 401).
	ErrUnauthorized = errors.New("the API key was refused")
	// ErrForbidden: the key is valid but may not read the system
	// configuration (HTTP 403; it needs the systemConfig.read permission,
	// which admin keys with all permissions have).
	ErrForbidden = errors.New("the API key may not read the system configuration")
	// ErrNotImmich: the answer is not Immich's system configuration.
	ErrNotImmich = errors.New("not an Immich system configuration")
)

// FFmpeg is the part of Immich's system configuration doctor compares with
// the compose file: server/src/dtos/system-config.dto.ts, SystemConfigFFmpegDto
// (accel: nvenc, qsv, vaapi, rkmpp or disabled; accelDecode: hardware
// decoding), read from GET /api/system-config.
type FFmpeg struct {
	Accel       string `json:"accel"`
	AccelDecode bool   `json:"accelDecode"`
}

// Client talks to one Immich server.
type Client struct {
	base *url.URL
	key  string
	http *http.Client
}

// New returns a client for the Immich server at rawURL (for example
// http://192.168.1.10:2283, with or without a trailing /api) that
// authenticates with apiKey. Each request is bounded by timeout.
func New(rawURL, apiKey string, timeout time.Duration) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("immich: --immich-url %q: want an http:// or https:// address such as http://192.168.1.10:2283", rawURL)
	}
	if apiKey == "" {
		return nil, fmt.Errorf("immich: %s is not set: create an API key under Account Settings → API Keys (with the systemConfig.read permission) and export it", APIKeyEnv)
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/api")
	u.RawQuery, u.Fragment = "", ""
	return &Client{base: u, key: apiKey, http: &http.Client{Timeout: timeout}}, nil
}

// Endpoint is the server's address, without credentials.
func (c *Client) Endpoint() string { return c.base.String() }

// maxBody bounds what is read of an answer; Immich's system configuration
// is a few kilobytes.
const maxBody = 1 << 20

// FFmpeg reads ffmpeg.accel and ffmpeg.accelDecode (GET /api/system-config,
// header x-api-key).
func (c *Client) FFmpeg(ctx context.Context) (FFmpeg, error) {
	u := *c.base
	u.Path += "/api/system-config"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return FFmpeg{}, fmt.Errorf("immich: %w", err)
	}
	req.Header.Set("x-api-key", c.key)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return FFmpeg{}, fmt.Errorf("immich: GET %s: %w", u.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return FFmpeg{}, fmt.Errorf("immich: reading the answer to GET %s: %w", u.Path, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return FFmpeg{}, fmt.Errorf("immich: GET %s: %s: %w", u.Path, resp.Status, ErrUnauthorized)
	case resp.StatusCode == http.StatusForbidden:
		return FFmpeg{}, fmt.Errorf("immich: GET %s: %s: %w", u.Path, resp.Status, ErrForbidden)
	case resp.StatusCode != http.StatusOK:
		return FFmpeg{}, fmt.Errorf("immich: GET %s: %s", u.Path, resp.Status)
	}
	var cfg struct {
		FFmpeg *FFmpeg `json:"ffmpeg"`
	}
	if err := json.Unmarshal(body, &cfg); err != nil {
		return FFmpeg{}, fmt.Errorf("immich: GET %s: %w (%v)", u.Path, ErrNotImmich, err)
	}
	if cfg.FFmpeg == nil || cfg.FFmpeg.Accel == "" {
		return FFmpeg{}, fmt.Errorf("immich: GET %s: %w (no ffmpeg.accel)", u.Path, ErrNotImmich)
	}
	return *cfg.FFmpeg, nil
}
