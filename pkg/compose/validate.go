package compose

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/schema"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"

	"github.com/immich-accel/immich-accel/pkg/accel"
)

// Validation reports how the edited file was checked with compose-go.
type Validation struct {
	// Checked: the edited file was loaded with compose-go (extends
	// resolved) and its effective configuration compared with the original.
	Checked bool `json:"checked"`
	// Interpolated: variables were substituted (unset ones with their
	// defaults or empty); false when the file only loads uninterpolated.
	Interpolated bool `json:"interpolated"`
	// Skipped says why the comparison could not be made (the original
	// itself does not load).
	Skipped string `json:"skipped,omitempty"`
}

// validate loads the original and the edited file with compose-go and
// checks that the ML service's effective configuration is the original's
// plus the section (the same whether the section comes by extends or
// inline), that its image gained the right suffix, and that no other
// service changed. sections is the hwaccel.ml.yml content the result uses.
// env is what the project's .env sets before the edit; the edited file is
// loaded with res.Env applied to it, as Compose will load it.
func validate(ctx context.Context, orig, edited []byte, res *EditResult, sections []byte, workDir string, env map[string]string) (*Validation, error) {
	tmp, err := os.MkdirTemp("", "immich-accel-check-")
	if err != nil {
		return nil, fmt.Errorf("validating: %w", err)
	}
	defer os.RemoveAll(tmp)
	hw := filepath.Join(tmp, res.Target.spec().fileName)
	if err := os.WriteFile(hw, sections, 0o600); err != nil {
		return nil, fmt.Errorf("validating: %w", err)
	}
	// compose-go compiles its JSON schema on the first load that validates;
	// that, the parser-level check and the loads below run side by side.
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = schema.Validate(map[string]any{})
	}()
	parsed := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		parsed <- parseCheck(ctx, orig, edited, res.Service, workDir)
	}()
	ms, err := buildModels(orig, edited, res, hw, workDir)
	var v *Validation
	if err == nil {
		ms.setEnv(env, res)
		v, err = ms.loadAndCompare(ctx, res)
	}
	if perr := <-parsed; perr != nil {
		return nil, perr
	}
	return v, err
}

// models are the three configurations validate compares: the original,
// the edited file, and the oracle (the original with any earlier inlined
// section taken out and the chosen section added by extends).
type models struct {
	orig, edited, oracle map[string]any
	workDir              string
	// env is the .env before the edit (for the original and the oracle),
	// editedEnv after it; assigned are the variables the edit sets.
	env, editedEnv map[string]string
	assigned       map[string]bool
}

// buildModels decodes the original and the edited file and derives the
// oracle. Every extends: of the ML service that names a hwaccel file is
// pointed at hw (the sections the result uses); other services' extends:
// of files that do not exist are dropped, as no .env or include is read.
func buildModels(orig, edited []byte, res *EditResult, hw, workDir string) (*models, error) {
	origMap, err := decodeModel(orig)
	if err != nil {
		return nil, err
	}
	editMap, err := decodeModel(edited)
	if err != nil {
		return nil, newError(ErrValidation, "", "the edited file does not decode: %v", err)
	}
	ms := &models{orig: origMap, edited: editMap, oracle: deepCopyAny(origMap).(map[string]any), workDir: workDir}
	spec := res.Target.spec()
	ms.forEach(ms.orig, res.Service, func(sm map[string]any) {
		if extendsHwaccel(sm, spec) {
			delete(sm, "extends")
		}
	})
	ms.forEach(ms.edited, res.Service, func(sm map[string]any) {
		if extendsHwaccel(sm, spec) {
			sm["extends"].(map[string]any)["file"] = hw
		}
	})
	inlined := inlinedBefore(orig, res)
	source := spec.defaults()
	if s, err := spec.sectionsFrom(res.Sections); err == nil {
		source = s
	}
	ms.forEach(ms.oracle, res.Service, func(sm map[string]any) {
		delete(sm, "extends")
		for _, b := range inlined {
			sec := source.get(b)
			if sec == nil {
				sec = spec.defaults().get(b)
			}
			if sec != nil {
				var secMap map[string]any
				_ = sec.Decode(&secMap)
				removeEntries(sm, secMap, "", res.Inline && b == res.Section())
			}
		}
		sm["extends"] = map[string]any{"file": hw, "service": res.Section()}
	})
	return ms, nil
}

// forEach drops include: from a model, calls ml on the ML service named
// name, and drops other services' extends: of files that do not exist.
func (ms *models) forEach(m map[string]any, name string, ml func(svc map[string]any)) {
	delete(m, "include")
	svcs, _ := m["services"].(map[string]any)
	for n, s := range svcs {
		sm, ok := s.(map[string]any)
		if !ok {
			continue
		}
		if n == name {
			ml(sm)
			continue
		}
		ext, ok := sm["extends"].(map[string]any)
		if !ok {
			continue
		}
		if f, ok := ext["file"].(string); ok {
			p := f
			if !filepath.IsAbs(p) {
				p = filepath.Join(ms.workDir, f)
			}
			if _, err := os.Stat(p); err != nil {
				delete(sm, "extends")
			}
		}
	}
}

// extendsHwaccel reports whether a service extends the target's sections
// file (hwaccel.ml.yml or hwaccel.transcoding.yml).
func extendsHwaccel(sm map[string]any, spec *targetSpec) bool {
	ext, ok := sm["extends"].(map[string]any)
	if !ok {
		return false
	}
	f, _ := ext["file"].(string)
	return spec.isFile(f)
}

// inlinedBefore returns the backends whose sections the original ML
// service carries inline.
func inlinedBefore(orig []byte, res *EditResult) []string {
	spec := res.Target.spec()
	p, err := parse(orig)
	if err != nil || spec.find(p, res.Service) != nil {
		return []string{}
	}
	return spec.inlined(p.svc)
}

// loadAndCompare loads the three models with compose-go and compares them.
// Variables: first unset (defaults apply, others are empty); when the
// original does not load that way (a port or path from a variable without
// default), every variable set to "10"; then no interpolation.
func (ms *models) loadAndCompare(ctx context.Context, res *EditResult) (*Validation, error) {
	type attempt struct {
		interp bool
		env    bool
	}
	var errs []error
	for _, a := range []attempt{{true, false}, {true, true}, {false, false}} {
		po, err := loadModel(ctx, ms.orig, ms.workDir, a.interp, ms.lookup(ms.env, a.env))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		// The edited file and the oracle load side by side.
		var px *types.Project
		oracleErr := make(chan error, 1)
		go func() {
			var err error
			px, err = loadModel(ctx, ms.oracle, ms.workDir, a.interp, ms.lookup(ms.env, a.env))
			oracleErr <- err
		}()
		pe, err := loadModel(ctx, ms.edited, ms.workDir, a.interp, ms.lookup(ms.editedEnv, a.env))
		xerr := <-oracleErr
		if err != nil {
			return nil, newError(ErrValidation, "Nothing was written. Please report this with the file attached.",
				"the edited file does not load with compose-go: %v", err)
		}
		if err := xerr; err != nil {
			return nil, newError(ErrValidation, "Nothing was written. Please report this with the file attached.",
				"the original plus the %s section does not load with compose-go: %v", res.Section(), err)
		}
		v := &Validation{Checked: true, Interpolated: a.interp}
		return v, compareProjects(po, pe, px, res.Service, res.Section(), res.Target)
	}
	v := &Validation{Skipped: fmt.Sprintf("the original file does not load with compose-go: %v", errs[0])}
	if len(errs) > 1 && errs[1].Error() != errs[0].Error() {
		v.Skipped += fmt.Sprintf(" (with every variable set: %v)", errs[1])
	}
	return v, nil
}

func decodeModel(src []byte) (map[string]any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return nil, newError(ErrNotCompose, "", "no YAML document has services:")
		}
		if err != nil {
			return nil, newError(ErrNotCompose, "Fix the YAML, then run again.", "the file does not decode: %v", err)
		}
		if _, ok := m["services"]; ok {
			return m, nil
		}
	}
}

// lookup returns the variables a model is interpolated with: env, and,
// with setAll, "10" for every other variable but those the edit assigns
// (which stay unset, so that their defaults apply on both sides).
// setEnv sets what the project's .env gives the original (env) and the
// edited file (env with the edit's assignments), and which variables the
// edit assigns.
func (ms *models) setEnv(env map[string]string, res *EditResult) {
	ms.env, ms.editedEnv = env, env
	ms.assigned = map[string]bool{}
	for _, v := range res.Env {
		ms.editedEnv = withVar(ms.editedEnv, v.Name, v.Value)
	}
	for _, n := range res.Variables {
		ms.assigned[n] = true
	}
}

func (ms *models) lookup(env map[string]string, setAll bool) template.Mapping {
	return func(k string) (string, bool) {
		if v, ok := env[k]; ok {
			return v, true
		}
		if setAll && !ms.assigned[k] {
			return "10", true
		}
		return "", false
	}
}

func loadModel(ctx context.Context, m map[string]any, workDir string, interp bool, lookup template.Mapping) (*types.Project, error) {
	m = deepCopyAny(m).(map[string]any)
	cd := types.ConfigDetails{
		WorkingDir:  workDir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(workDir, "compose.yaml"), Config: m}},
		Environment: types.Mapping{},
	}
	return loader.LoadWithContext(ctx, cd, func(o *loader.Options) {
		o.SetProjectName("immich-accel-check", true)
		o.SkipResolveEnvironment = true
		o.SkipConsistencyCheck = true
		o.SkipInclude = true
		o.Profiles = []string{"*"}
		if !interp {
			o.SkipInterpolation = true
			return
		}
		o.Interpolate.LookupValue = func(k string) (string, bool) { return lookup(k) }
		o.Interpolate.Substitute = func(s string, mp template.Mapping) (string, error) {
			r, err := template.Substitute(s, mp)
			if err != nil {
				// ${VAR:?message} and friends: keep the text as written.
				return s, nil
			}
			return r, nil
		}
	})
}

// removeEntries removes from a service map the list entries that sec (an
// inlined section) adds, and empty containers left behind.
// With keepMaps, list entries that are mappings (device reservations) stay:
// the editor merges a section into such an entry rather than replacing it.
func removeEntries(m map[string]any, sec map[string]any, path string, keepMaps bool) {
	for k, sv := range sec {
		kp := joinPath(path, k)
		switch s := sv.(type) {
		case map[string]any:
			if mm, ok := m[k].(map[string]any); ok {
				removeEntries(mm, s, kp, keepMaps)
				if len(mm) == 0 {
					delete(m, k)
				}
			}
		case []any:
			if env, ok := m[k].(map[string]any); ok && k == "environment" {
				// KEY=VALUE entries inlined into a mapping.
				for _, it := range s {
					if str, ok := it.(string); ok {
						name, _, _ := strings.Cut(str, "=")
						delete(env, name)
					}
				}
				if len(env) == 0 {
					delete(m, k)
				}
				continue
			}
			l, ok := m[k].([]any)
			if !ok {
				continue
			}
			drop := map[string]bool{}
			for _, it := range s {
				drop[anyKey(kp, it)] = true
			}
			var keep []any
			for _, it := range l {
				_, isMap := it.(map[string]any)
				if !drop[anyKey(kp, it)] || (keepMaps && isMap) {
					keep = append(keep, it)
				}
			}
			if len(keep) == 0 {
				delete(m, k)
			} else {
				m[k] = keep
			}
		}
	}
}

func anyKey(path string, v any) string {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return itemKey(path, &n)
}

func deepCopyAny(v any) any {
	switch t := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(t))
		for k, x := range t {
			c[k] = deepCopyAny(x)
		}
		return c
	case []any:
		c := make([]any, len(t))
		for i, x := range t {
			c[i] = deepCopyAny(x)
		}
		return c
	}
	return v
}

// normalizeService sorts the lists whose order a merge may change.
func normalizeService(s types.ServiceConfig) types.ServiceConfig {
	s.Devices = append([]types.DeviceMapping(nil), s.Devices...)
	sort.Slice(s.Devices, func(i, j int) bool { return s.Devices[i].Target < s.Devices[j].Target })
	s.Volumes = append([]types.ServiceVolumeConfig(nil), s.Volumes...)
	sort.Slice(s.Volumes, func(i, j int) bool { return s.Volumes[i].Target < s.Volumes[j].Target })
	for _, l := range []*[]string{&s.GroupAdd, &s.SecurityOpt} {
		c := append([]string(nil), (*l)...)
		sort.Strings(c)
		*l = c
	}
	s.DeviceCgroupRules = append([]string(nil), s.DeviceCgroupRules...)
	sort.Strings(s.DeviceCgroupRules)
	if s.Deploy != nil && s.Deploy.Resources.Reservations != nil {
		d := *s.Deploy
		r := *d.Resources.Reservations
		r.Devices = mergeDeviceRequests(r.Devices)
		d.Resources.Reservations = &r
		s.Deploy = &d
	}
	return s
}

// mergeDeviceRequests folds device reservations of the same driver into
// one: the union of their capabilities and device IDs, and the larger
// count (-1, all, above any number). Two NVIDIA reservations on one
// service (the user's own and a section's) give the container the union of
// their capabilities; the editor writes them as one entry.
func mergeDeviceRequests(ds []types.DeviceRequest) []types.DeviceRequest {
	var out []types.DeviceRequest
	at := map[string]int{}
	for _, d := range ds {
		i, ok := at[d.Driver]
		if !ok || d.Driver == "" {
			at[d.Driver] = len(out)
			c := d
			c.Capabilities = append([]string(nil), d.Capabilities...)
			c.IDs = append([]string(nil), d.IDs...)
			out = append(out, c)
			continue
		}
		m := &out[i]
		for _, c := range d.Capabilities {
			if !slices.Contains(m.Capabilities, c) {
				m.Capabilities = append(m.Capabilities, c)
			}
		}
		for _, id := range d.IDs {
			if !slices.Contains(m.IDs, id) {
				m.IDs = append(m.IDs, id)
			}
		}
		if m.Count != -1 && (d.Count == -1 || d.Count > m.Count) {
			m.Count = d.Count
		}
	}
	for i := range out {
		sort.Strings(out[i].Capabilities)
		sort.Strings(out[i].IDs)
	}
	return out
}

func baseImage(img string) string {
	if i := strings.Index(img, "@"); i >= 0 {
		img = img[:i]
	}
	for _, w := range accel.SuffixSpellings() {
		if strings.HasSuffix(img, "-"+w) {
			return strings.TrimSuffix(img, "-"+w)
		}
	}
	return img
}

func compareProjects(orig, edited, oracle *types.Project, name, backend string, target Target) error {
	fail := func(format string, args ...any) error {
		return newError(ErrValidation, "Nothing was written. Please report this with the file attached.", format, args...)
	}
	if len(orig.Services) != len(edited.Services) {
		return fail("the edited file has %d services, the original %d", len(edited.Services), len(orig.Services))
	}
	for n, s := range orig.Services {
		if n == name {
			continue
		}
		es, ok := edited.Services[n]
		if !ok {
			return fail("service %q is missing after the edit", n)
		}
		if !reflect.DeepEqual(s, es) {
			return fail("service %q changed: %s", n, firstDiff(s, es))
		}
	}
	got, ok := edited.Services[name]
	if !ok {
		return fail("service %q is missing after the edit", name)
	}
	want := oracle.Services[name]
	origImg := orig.Services[name].Image
	if !target.spec().suffix && got.Image != origImg {
		// The server image is the same for every transcoding method.
		return fail("the image changed: %s -> %s", origImg, got.Image)
	}
	// The image: the same image with the backend's suffix.
	suffix := accel.Backend(backend).Suffix()
	if !target.spec().suffix {
		suffix = ""
	}
	if baseImage(got.Image) != baseImage(origImg) {
		return fail("the image changed beyond its suffix: %s -> %s", origImg, got.Image)
	}
	if suffix != "" && !strings.HasSuffix(strings.SplitN(got.Image, "@", 2)[0], "-"+suffix) {
		return fail("the image %s does not end in -%s", got.Image, suffix)
	}
	if target.spec().suffix && suffix == "" && baseImage(got.Image) != strings.SplitN(got.Image, "@", 2)[0] {
		return fail("the image %s still has a backend suffix", got.Image)
	}
	got.Image, want.Image = "", ""
	got, want = normalizeService(got), normalizeService(want)
	if !reflect.DeepEqual(got, want) {
		return fail("the effective %q service is not the original plus the %s section: %s", name, backend, firstDiff(want, got))
	}
	return nil
}

// firstDiff describes the first difference between two values' JSON forms.
func firstDiff(a, b any) string {
	ja, _ := json.MarshalIndent(a, "", " ")
	jb, _ := json.MarshalIndent(b, "", " ")
	la, lb := strings.Split(string(ja), "\n"), strings.Split(string(jb), "\n")
	for i := 0; i < len(la) || i < len(lb); i++ {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			return fmt.Sprintf("expected %s, got %s", strings.TrimSpace(x), strings.TrimSpace(y))
		}
	}
	return "values differ"
}

// parseCheck reads the original and the edited bytes with compose-go's own
// parser (no interpolation, extends or includes) and checks that every
// service but the ML one reads the same. It says nothing when compose-go
// cannot read the original either; the full check then reports that.
func parseCheck(ctx context.Context, orig, edited []byte, name, workDir string) error {
	fail := func(format string, args ...any) error {
		return newError(ErrValidation, "Nothing was written. Please report this with the file attached.", format, args...)
	}
	before, err := rawServices(ctx, orig, workDir)
	if err != nil {
		return nil
	}
	after, err := rawServices(ctx, edited, workDir)
	if err != nil {
		return fail("compose-go cannot read the edited file: %v", err)
	}
	if _, ok := after[name]; !ok {
		return fail("compose-go does not see service %q in the edited file", name)
	}
	for n, s := range before {
		if n != name && !reflect.DeepEqual(s, after[n]) {
			return fail("compose-go reads service %q differently after the edit: %s", n, firstDiff(s, after[n]))
		}
	}
	return nil
}

// rawServices reads the services: of a file with compose-go's parser only.
func rawServices(ctx context.Context, src []byte, workDir string) (map[string]any, error) {
	cd := types.ConfigDetails{
		WorkingDir:  workDir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(workDir, "compose.yaml"), Content: src}},
		Environment: types.Mapping{},
	}
	m, err := loader.LoadModelWithContext(ctx, cd, func(o *loader.Options) {
		o.SetProjectName("immich-accel-check", true)
		o.SkipExtends, o.SkipInclude, o.SkipInterpolation = true, true, true
		o.SkipNormalization, o.SkipConsistencyCheck, o.SkipValidation = true, true, true
		o.SkipResolveEnvironment, o.SkipDefaultValues, o.ResolvePaths = true, true, false
	})
	if err != nil {
		return nil, err
	}
	svcs, _ := m["services"].(map[string]any)
	return svcs, nil
}
