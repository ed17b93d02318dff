package compose

import (
	"strings"

	"github.com/immich-accel/immich-accel/pkg/accel"
)

// imageRef is an image reference split where the tag suffix lives, with
// variable expressions (${...}, $NAME) kept whole.
type imageRef struct {
	raw     string
	hasTag  bool
	prefix  string // everything up to and including the tag's ':'
	tag     string // the tag, without digest
	digest  string // "@sha256:..." or ""
	suffix  string // known suffix the tag ends with ("" when none), normalised
	written string // the suffix as written, without the dash
	fromEnv bool   // the tag ends with a variable after its first part: the suffix comes from the environment
	onlyVar bool   // the whole reference is a single variable
	legacy  bool   // altran1502's pre-ghcr image
}

// tagParts splits s into variable expressions and literal runs.
func tagParts(s string) []string {
	var parts []string
	lit := strings.Builder{}
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, lit.String())
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		if s[i] == '$' && i+1 < len(s) && s[i+1] == '$' {
			lit.WriteString("$$")
			i += 2
			continue
		}
		if s[i] == '$' && i+1 < len(s) && s[i+1] == '{' {
			flush()
			depth, j := 0, i
			for ; j < len(s); j++ {
				if s[j] == '{' {
					depth++
				} else if s[j] == '}' {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			if j >= len(s) {
				j = len(s) - 1
			}
			parts = append(parts, s[i:j+1])
			i = j + 1
			continue
		}
		if s[i] == '$' && i+1 < len(s) && (s[i+1] == '_' || isAlpha(s[i+1])) {
			flush()
			j := i + 1
			for j < len(s) && (s[j] == '_' || isAlpha(s[j]) || (s[j] >= '0' && s[j] <= '9')) {
				j++
			}
			parts = append(parts, s[i:j])
			i = j
			continue
		}
		lit.WriteByte(s[i])
		i++
	}
	flush()
	return parts
}

func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

func isVar(part string) bool {
	return strings.HasPrefix(part, "$") && !strings.HasPrefix(part, "$$")
}

func parseImage(raw string) imageRef {
	r := imageRef{raw: raw}
	r.legacy = strings.Contains(strings.ToLower(raw), "altran1502/")
	parts := tagParts(raw)
	if len(parts) == 1 && isVar(parts[0]) {
		r.onlyVar = true
	}
	// Find the top-level ':' and '@' (outside variable expressions).
	pos := 0
	lastSlash, lastColon, at := -1, -1, -1
	for _, part := range parts {
		if !isVar(part) {
			for k := 0; k < len(part); k++ {
				switch part[k] {
				case '/':
					lastSlash = pos + k
				case ':':
					if at < 0 {
						lastColon = pos + k
					}
				case '@':
					if at < 0 {
						at = pos + k
					}
				}
			}
		}
		pos += len(part)
	}
	rest := raw
	if at >= 0 {
		r.digest = raw[at:]
		rest = raw[:at]
	}
	if lastColon < 0 || lastColon < lastSlash {
		// No tag that can be seen: a bare name (latest) or an image from
		// a variable such as ${ML_IMAGE}.
		r.prefix = rest
		return r
	}
	r.hasTag = true
	r.prefix = rest[:lastColon+1]
	r.tag = rest[lastColon+1:]
	tp := tagParts(r.tag)
	if len(tp) > 1 && isVar(tp[len(tp)-1]) {
		r.fromEnv = true
		return r
	}
	if b, written := accel.TagSuffix(r.tag); written != "" {
		r.suffix, r.written = b.Suffix(), written
	}
	return r
}

// base returns the tag without its suffix.
func (r imageRef) base() string {
	if r.written == "" {
		return r.tag
	}
	return r.tag[:len(r.tag)-len(r.written)-1]
}

// withSuffix returns the reference with the tag suffix for backend, keeping
// or dropping the digest.
func (r imageRef) withSuffix(suffix string, dropDigest bool) string {
	tag := r.base()
	if suffix != "" {
		tag += "-" + suffix
	}
	out := r.prefix + tag
	if r.digest != "" && !dropDigest {
		out += r.digest
	}
	return out
}
