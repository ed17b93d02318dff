package compose

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/compose-spec/compose-go/v2/template"
	"go.yaml.in/yaml/v3"

	"github.com/immich-accel/immich-accel/pkg/accel"
)

// interpolate substitutes variables in s as Compose does, with env (the
// project's .env) and nothing else: unset variables take their defaults.
func interpolate(s string, env map[string]string) (string, error) {
	return template.SubstituteWithOptions(s, func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}, template.WithoutLogging)
}

// varExpr is one variable expression: $NAME, ${NAME} or ${NAME<op><word>}.
type varExpr struct {
	name, op, word string
}

func parseVarExpr(expr string) varExpr {
	inner, braced := strings.CutPrefix(expr, "${")
	if !braced {
		return varExpr{name: strings.TrimPrefix(expr, "$")}
	}
	inner = strings.TrimSuffix(inner, "}")
	i := strings.IndexFunc(inner, func(r rune) bool {
		return !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	})
	if i < 0 {
		return varExpr{name: inner}
	}
	x := varExpr{name: inner[:i]}
	rest := inner[i:]
	for _, o := range []string{":-", ":+", ":?", "-", "+", "?"} {
		if w, ok := strings.CutPrefix(rest, o); ok {
			x.op, x.word = o, w
			break
		}
	}
	return x
}

// withVar returns env with name set to value (env itself is not changed).
func withVar(env map[string]string, name, value string) map[string]string {
	out := make(map[string]string, len(env)+1)
	for k, v := range env {
		out[k] = v
	}
	out[name] = value
	return out
}

// setVar records that name must be set to value in the .env file.
func (e *editor) setVar(name, value string) {
	for i, v := range e.envSet {
		if v.Name == name {
			e.envSet[i].Value = value
			return
		}
	}
	e.envSet = append(e.envSet, EnvVar{Name: name, Value: value})
}

// env returns the variables the edit sees: the .env's, with those the edit
// sets so far.
func (e *editor) env() map[string]string {
	env := e.opts.Env
	for _, v := range e.envSet {
		env = withVar(env, v.Name, v.Value)
	}
	return env
}

// varUsedElsewhere returns the line of another use of variable name in the
// file, outside node n, or 0: a variable other places read must not be
// changed for the ML service alone.
func (e *editor) varUsedElsewhere(name string, n *yaml.Node) int {
	re := regexp.MustCompile(`\$\{?` + regexp.QuoteMeta(name) + `\b`)
	for i, l := range e.p.t.lines {
		c := nonCommentPart(l)
		hits := len(re.FindAllStringIndex(c, -1))
		if i == n.Line-1 {
			hits -= len(re.FindAllStringIndex(n.Value, -1))
		}
		if hits > 0 {
			return i + 1
		}
	}
	return 0
}

// selectorVar sets variable x, which the end of value node n comes from,
// so that the value interpolates to want. candidates are the values to try,
// in order. It reports false when none gives want.
func (e *editor) selectorVar(n *yaml.Node, x varExpr, want string, candidates []string) (bool, error) {
	e.selectors = append(e.selectors, x.name)
	env := e.env()
	if cur, err := interpolate(n.Value, env); err == nil && cur == want {
		return true, nil
	}
	for _, c := range candidates {
		got, err := interpolate(n.Value, withVar(env, x.name, c))
		if err != nil || got != want {
			continue
		}
		if line := e.varUsedElsewhere(x.name, n); line != 0 {
			return false, newError(ErrManual, fmt.Sprintf("Give the machine-learning service a variable of its own, or set %s=%s by hand if that suits line %d too.", x.name, c, line),
				"%s, which selects the backend of %q (line %d), is also used on line %d; setting it would change that too", x.name, e.p.name, n.Line, line)
		}
		e.setVar(x.name, c)
		return true, nil
	}
	return false, nil
}

// imageFromVariable handles an image whose tag suffix or whole reference
// comes from a variable. handled is false for the images image() edits
// in the compose file by itself.
func (e *editor) imageFromVariable(v *yaml.Node, ref imageRef, want string) (handled bool, err error) {
	parts := tagParts(v.Value)
	switch {
	case ref.fromEnv:
		return true, e.suffixVariable(v, ref, want)
	case ref.onlyVar:
		return true, e.wholeImageVariable(v, parseVarExpr(parts[0]), want)
	case len(parts) == 2 && isVar(parts[0]) && isWholeImageVar(parts[0]) && knownSuffixPart(parts[1]):
		// ${IMAGE:-...:release}-cuda: the suffix after a whole-image
		// variable, as immich-accel writes it.
		return true, e.suffixAfterImageVariable(v, parts, want)
	}
	if tp := tagParts(ref.tag); ref.hasTag && len(tp) == 1 && isVar(tp[0]) {
		// A tag variable such as ${IMMICH_VERSION:-release}: the suffix goes
		// after it in the compose file, unless the variable's value in
		// .env already carries one.
		eff, err := interpolate(v.Value, e.env())
		if err == nil {
			if er := parseImage(eff); er.written != "" {
				x := parseVarExpr(tp[0])
				return true, newError(ErrManual, fmt.Sprintf("Set %s to the tag without -%s in %s (other services may use it too), then run again.", x.name, er.written, envName(e.opts.EnvFile)),
					"the image of %q is %s with .env, whose tag suffix -%s comes from %s, a variable the tag is made of", e.p.name, eff, er.written, x.name)
			}
		}
	}
	return false, nil
}

// isWholeImageVar reports whether a variable expression stands for a whole
// image reference: its default names a registry path, or it is bare.
func isWholeImageVar(expr string) bool {
	x := parseVarExpr(expr)
	return x.op == "" || strings.Contains(x.word, "/")
}

func knownSuffixPart(s string) bool {
	w, ok := strings.CutPrefix(s, "-")
	if !ok {
		return false
	}
	_, written := accel.TagSuffix("x" + s) // any tag ending in s
	return written != "" && written == w
}

func envName(given string) string {
	if given != "" {
		return given
	}
	return ".env"
}

// suffixVariable: ...:${IMMICH_VERSION:-release}${ML_VARIANT:-} or
// ${X:+-$X}. The variable is set in .env to give the new suffix.
func (e *editor) suffixVariable(v *yaml.Node, ref imageRef, want string) error {
	tp := tagParts(ref.tag)
	expr := tp[len(tp)-1]
	x := parseVarExpr(expr)
	manual := func() error {
		return newError(ErrManual, suffixVarFix(expr, want),
			"the image tag suffix of %q comes from a variable (%s, line %d), and no value of %s gives a tag ending in %s", e.p.name, v.Value, v.Line, x.name, orNone(want))
	}
	if ref.digest != "" {
		return newError(ErrManual, "Remove the digest pin (the variable picks the image by its tag), then run again.",
			"the image of %q is pinned by digest (%s) while a variable picks its tag suffix", e.p.name, ref.digest)
	}
	eff, err := interpolate(v.Value, e.env())
	if err != nil {
		return newError(ErrManual, fmt.Sprintf("Set the variables of the image in %s, then run again.", envName(e.opts.EnvFile)),
			"the image of %q does not interpolate: %v", e.p.name, err)
	}
	er := parseImage(eff)
	if !er.hasTag {
		return manual()
	}
	target := er.withSuffix(want, false)
	cands := []string{"-" + want, want}
	if want == "" {
		cands = []string{""}
	}
	ok, err := e.selectorVar(v, x, target, cands)
	if err != nil {
		return err
	}
	if !ok {
		return manual()
	}
	return nil
}

func orNone(suffix string) string {
	if suffix == "" {
		return "no suffix"
	}
	return "-" + suffix
}

// wholeImageVariable: image: ${IMMICH_ML_IMAGE:-ghcr.io/...:release}. When
// .env sets the variable its tag is changed there; otherwise the suffix is
// appended after the variable in the compose file, which is right both
// with the variable unset and set to an image reference with a tag.
func (e *editor) wholeImageVariable(v *yaml.Node, x varExpr, want string) error {
	env := e.env()
	val, set := env[x.name]
	if x.op == "+" || x.op == ":+" {
		return newError(ErrManual, "Write the image as ${NAME:-default} or out in full, then run again.",
			"the image of %q is %s, which immich-accel does not set", e.p.name, v.Value)
	}
	if set && (val != "" || !strings.HasPrefix(x.op, ":")) {
		r := parseImage(val)
		switch {
		case strings.Contains(val, "$"):
			return newError(ErrManual, fmt.Sprintf("Write the image of %s out in %s, then run again.", x.name, envName(e.opts.EnvFile)),
				"%s in %s is itself made of variables (%s)", x.name, envName(e.opts.EnvFile), val)
		case r.legacy:
			return newError(ErrManual, "Switch to ghcr.io/immich-app/immich-machine-learning:release, then run again.",
				"%s in %s is the legacy image %s, which has no accelerated variants", x.name, envName(e.opts.EnvFile), val)
		case !r.hasTag:
			return newError(ErrManual, fmt.Sprintf("Give %s a tag in %s, such as %s:release-%s.", x.name, envName(e.opts.EnvFile), val, orCPU(want)),
				"%s in %s has no tag (%s means :latest, which has no accelerated variant)", x.name, envName(e.opts.EnvFile), val)
		case r.digest != "" && !e.opts.DropDigest && !(r.suffix == want && r.written == want):
			return newError(ErrManual, "Re-run with --drop-digest to drop the pin, or pin the digest of the -"+orCPU(want)+" image by hand.",
				"%s in %s is pinned by digest (%s); a digest names exactly one image, so it cannot get a different tag suffix", x.name, envName(e.opts.EnvFile), r.digest)
		}
		nv := r.withSuffix(want, e.opts.DropDigest)
		if nv == val {
			return nil
		}
		if r.digest != "" {
			e.note("dropped the digest pin %s from %s; pin the new image's digest again if you want one", r.digest, x.name)
		}
		if line := e.varUsedElsewhere(x.name, v); line != 0 {
			return newError(ErrManual, fmt.Sprintf("Give the machine-learning service a variable of its own, or set %s=%s by hand.", x.name, nv),
				"%s, the image of %q (line %d), is also used on line %d; changing it would change that too", x.name, e.p.name, v.Line, line)
		}
		e.selectors = append(e.selectors, x.name)
		e.setVar(x.name, nv)
		return nil
	}
	def, err := interpolate(v.Value, env)
	if err != nil || def == "" {
		return newError(ErrManual, fmt.Sprintf("Set %s in %s to the image with its tag, such as ghcr.io/immich-app/immich-machine-learning:release-%s.", x.name, envName(e.opts.EnvFile), orCPU(want)),
			"the image of %q comes entirely from %s, which is not set and has no default", e.p.name, x.name)
	}
	r := parseImage(def)
	switch {
	case !r.hasTag:
		return newError(ErrManual, fmt.Sprintf("Give the default of %s a tag, or set %s in %s to an image with a tag.", x.name, x.name, envName(e.opts.EnvFile)),
			"the image of %q defaults to %s, which has no tag", e.p.name, def)
	case r.written != "" || r.digest != "":
		return newError(ErrManual, fmt.Sprintf("Set %s in %s to the image you want, such as %s.", x.name, envName(e.opts.EnvFile), r.withSuffix(want, true)),
			"the default of %s (%s) already carries a tag suffix or digest, so a suffix cannot be added after it", x.name, def)
	case want == "":
		return nil
	}
	e.note("%s is not set, so -%s goes after it in the compose file: the image is right with %s unset and with %s set to an image with a tag (without suffix)", x.name, want, x.name, x.name)
	return e.replaceScalar(v, v.Value+"-"+want)
}

// suffixAfterImageVariable: ${IMAGE:-...:release}-cuda. The suffix written
// after the variable is changed or removed.
func (e *editor) suffixAfterImageVariable(v *yaml.Node, parts []string, want string) error {
	eff, err := interpolate(parts[0], e.env())
	if err == nil {
		if r := parseImage(eff); r.written != "" || r.digest != "" || !r.hasTag {
			return newError(ErrManual, fmt.Sprintf("Set %s to the image without tag suffix or digest, such as %s, then run again.", parseVarExpr(parts[0]).name, r.withSuffix("", true)),
				"the image of %q is %s%s, and %s itself has no tag or already carries a suffix or digest", e.p.name, eff, parts[1], eff)
		}
	}
	nv := parts[0]
	if want != "" {
		nv += "-" + want
	}
	if nv == v.Value {
		return nil
	}
	return e.replaceScalar(v, nv)
}

// extendsVariable: extends service: ${HWACCEL_ML:-cpu}. The variable is
// set to the backend in .env.
func (e *editor) extendsVariable(svcNode *yaml.Node) error {
	parts := tagParts(strings.TrimSpace(svcNode.Value))
	fix := fmt.Sprintf("Set the variable to %s in %s, or replace %s with %s.", e.backend, envName(e.opts.EnvFile), svcNode.Value, e.backend)
	if len(parts) != 1 || !isVar(parts[0]) {
		return newError(ErrManual, fix,
			"the hwaccel section of %q comes from a variable (service: %s, line %d) in a form immich-accel does not set", e.p.name, svcNode.Value, svcNode.Line)
	}
	x := parseVarExpr(parts[0])
	ok, err := e.selectorVar(svcNode, x, string(e.backend), []string{string(e.backend)})
	if err != nil {
		return err
	}
	if !ok {
		return newError(ErrManual, fix,
			"the hwaccel section of %q comes from a variable (service: %s, line %d), and no value of %s gives %s", e.p.name, svcNode.Value, svcNode.Line, x.name, e.backend)
	}
	return nil
}
