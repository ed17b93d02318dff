package compose

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/immich-accel/immich-accel/pkg/accel"
)

// DefaultFileNames are Compose's own default file names, in its order.
var DefaultFileNames = []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}

// FindFile returns the first of Compose's default file names in dir.
func FindFile(dir string) (string, error) {
	for _, n := range DefaultFileNames {
		p := filepath.Join(dir, n)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", newError(ErrNoComposeFile, "Run it in the directory of your docker-compose.yml, or pass --file.",
		"no compose file in %s (looked for %s)", dir, strings.Join(DefaultFileNames, ", "))
}

// Options says which file to change and how.
type Options struct {
	EditOptions
	// File is the compose file. A symlink is followed to write its target;
	// a new hwaccel.ml.yml goes next to the path as given, where Compose
	// resolves extends: from.
	File string
	// HwaccelFile, when set, is read as the source of sections instead of
	// the embedded hwaccel.ml.yml.
	HwaccelFile string
	// SkipValidation skips the compose-go check of the result.
	SkipValidation bool
	// EnvFile is the env file Compose interpolates with (--env-file); ""
	// means the .env next to the compose file, as for docker compose.
	EnvFile string
	// LookupEnv reads the process environment, which overrides the .env
	// for Compose; nil reads nothing.
	LookupEnv func(string) (string, bool)
	// Transcode, when set, also applies this section of
	// hwaccel.transcoding.yml to the service that transcodes, in the same
	// run and the same diff; EditOptions.Backend may then be empty.
	// ServerService names that service ("" finds it).
	Transcode     accel.Transcode
	ServerService string
}

// steps are the edits a run makes, in order: machine learning, then
// transcoding.
func (opts Options) steps(eo EditOptions) []EditOptions {
	var out []EditOptions
	if eo.Backend != "" {
		eo.Target = TargetML
		out = append(out, eo)
	}
	if opts.Transcode != "" {
		tr := EditOptions{Target: TargetTranscode, Transcode: opts.Transcode, Inline: eo.Inline, Service: opts.ServerService, Host: eo.Host}
		out = append(out, tr)
	}
	return out
}

// FileChange is one file the plan writes.
type FileChange struct {
	Path   string `json:"path"`   // path written (a symlink's target)
	Create bool   `json:"create"` // a new file
	Diff   string `json:"diff"`   // unified diff
	Old    []byte `json:"-"`
	New    []byte `json:"-"`

	mode    os.FileMode
	modTime time.Time
	size    int64
}

// Plan is everything a compose run would change, before anything is
// written.
type Plan struct {
	File       string        `json:"file"`
	Service    string        `json:"service"`
	Backend    accel.Backend `json:"backend"`
	Mode       string        `json:"mode"` // "extends" or "inline"
	Changes    []FileChange  `json:"changes"`
	Notes      []string      `json:"notes"`
	Validation *Validation   `json:"validation,omitempty"`
	Before     *Inspection   `json:"before"`
	// Transcode is the hwaccel.transcoding.yml section applied to
	// ServerService, with its own compose-go check and inspection of the
	// original ("" when the run sets no transcoding method).
	Transcode           accel.Transcode      `json:"transcode,omitempty"`
	ServerService       string               `json:"serverService,omitempty"`
	TranscodeValidation *Validation          `json:"transcodeValidation,omitempty"`
	TranscodeBefore     *TranscodeInspection `json:"transcodeBefore,omitempty"`
	// ChangedLines is the number of lines the compose file diff removes
	// and adds.
	ChangedLines int `json:"changedLines"`
	// SetInUI lists variables to set in a stack manager's UI (Portainer,
	// CasaOS, runtipi), which holds them instead of a .env file.
	SetInUI []EnvVar `json:"setInUI,omitempty"`
}

// Changed reports whether the plan writes anything.
func (p *Plan) Changed() bool { return len(p.Changes) > 0 }

// Prepare reads the files, edits them in memory, validates the result and
// returns the plan. Nothing is written.
func Prepare(ctx context.Context, opts Options) (*Plan, error) {
	in, err := readInputs(opts)
	if err != nil {
		return nil, err
	}
	env, err := readEnv(in, opts)
	if err != nil {
		return nil, err
	}
	in.edit.Env, in.edit.EnvFile = env.vars, opts.EnvFile
	steps := opts.steps(in.edit)
	if len(steps) == 0 {
		return nil, newError(ErrManual, "Name a backend (--backend), a transcoding method (--transcode), or both.", "nothing to change was asked for")
	}
	// Each step edits the previous one's output; the diff is from the
	// original to the last, and each step is checked on its own (every
	// other service, the other target's included, must read the same),
	// which together prove the whole.
	var results []*EditResult
	cur := in.src
	for _, eo := range steps {
		res, err := Edit(cur, eo)
		if err != nil {
			return nil, err
		}
		results = append(results, res)
		cur = res.Output
	}
	plan := newPlan(in, results)
	prev := in.src
	for _, res := range results {
		sections, err := plan.addHwaccelFile(in, res, opts)
		if err != nil {
			return nil, err
		}
		if res.Target == TargetML {
			if err := plan.addEnvFile(env, res, opts); err != nil {
				return nil, err
			}
		}
		if !opts.SkipValidation {
			v, err := validate(ctx, prev, res.Output, res, sections, in.dir, env.vars)
			if err != nil {
				return nil, err
			}
			if v.Skipped != "" && res.templated > 0 {
				return nil, newError(ErrNotCompose, "Render the template first and run immich-accel on the result, or edit the template by hand.",
					"the file holds template text (line %d) and does not load as a Compose file: %s", res.templated, strings.TrimPrefix(v.Skipped, "the original file does not load with compose-go: "))
			}
			if res.Target == TargetTranscode {
				plan.TranscodeValidation = v
			} else {
				plan.Validation = v
			}
		}
		plan.addStackNote(res, in.edit.Inline)
		prev = res.Output
	}
	return plan, nil
}

// inputs is what Prepare reads before editing.
type inputs struct {
	path string // the compose file, symlinks resolved
	// dir is the absolute directory of the compose file as given, not of a
	// symlink's target: Compose resolves relative paths (extends: file:,
	// .env) from there, so hwaccel.ml.yml belongs there.
	dir string
	// viaLink: the file as given is a symlink into another directory.
	viaLink bool
	st      os.FileInfo
	src     []byte
	edit    EditOptions // with Sections from --hwaccel-file
}

// readInputs reads the compose file and the --hwaccel-file, if any.
func readInputs(opts Options) (*inputs, error) {
	path, err := filepath.EvalSymlinks(opts.File)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, newError(ErrNoComposeFile, "Check the path given with --file.", "compose file %s does not exist", opts.File)
		}
		return nil, fmt.Errorf("resolving %s: %w", opts.File, err)
	}
	in := &inputs{path: path, edit: opts.EditOptions}
	in.dir, in.viaLink = composeDir(opts.File, path)
	if in.st, err = os.Stat(path); err != nil {
		return nil, fmt.Errorf("reading compose file: %w", err)
	}
	if in.src, err = readFile(path); err != nil {
		return nil, fmt.Errorf("reading compose file: %w", err)
	}
	if opts.HwaccelFile != "" {
		b, err := readFile(opts.HwaccelFile)
		if err != nil {
			return nil, fmt.Errorf("reading --hwaccel-file: %w", err)
		}
		if _, err := loadSections(b); err != nil {
			return nil, newError(ErrManual, "Pass a hwaccel.ml.yml-style file with services: per backend.", "--hwaccel-file %s: %v", opts.HwaccelFile, err)
		}
		in.edit.Sections = b
	}
	return in, nil
}

// composeDir returns the absolute directory of the compose file as given
// and whether it differs from that of its resolved path (a symlink into
// another directory). Both are compared absolute: a relative --file and
// its relative resolved path name the same directory.
func composeDir(given, resolved string) (dir string, viaLink bool) {
	dir = filepath.Dir(resolved)
	if abs, err := filepath.Abs(given); err == nil {
		dir = filepath.Dir(abs)
	}
	realDir := filepath.Dir(resolved)
	if abs, err := filepath.Abs(resolved); err == nil {
		realDir = filepath.Dir(abs)
	}
	return dir, dir != realDir
}

// newPlan starts the plan with the compose file's own change: one diff
// from the original to the last step's output.
func newPlan(in *inputs, results []*EditResult) *Plan {
	plan := &Plan{File: in.path, Mode: "extends", Notes: []string{}, Changes: []FileChange{}}
	if in.edit.Inline {
		plan.Mode = "inline"
	}
	for _, res := range results {
		if res.Target == TargetTranscode {
			plan.Transcode, plan.ServerService, plan.TranscodeBefore = res.Transcode, res.Service, res.TranscodeBefore
		} else {
			plan.Backend, plan.Service, plan.Before = res.Backend, res.Service, res.Before
		}
		plan.Notes = append(plan.Notes, res.Notes...)
	}
	out := results[len(results)-1].Output
	if !bytes.Equal(out, in.src) {
		base := filepath.Base(in.path)
		plan.Changes = append(plan.Changes, FileChange{Path: in.path, Diff: UnifiedDiff("a/"+base, "b/"+base, in.src, out),
			Old: in.src, New: out, mode: in.st.Mode(), modTime: in.st.ModTime(), size: in.st.Size()})
		plan.ChangedLines = changedLines(in.src, out)
	}
	return plan
}

// addHwaccelFile plans the hwaccel.ml.yml the edited file extends, if it
// extends one: written when missing, kept (and checked) when present. It
// returns the sections the result will use.
func (plan *Plan) addHwaccelFile(in *inputs, res *EditResult, opts Options) ([]byte, error) {
	if res.ExtendsFile == "" {
		return res.Sections, nil
	}
	hw := res.ExtendsFile
	if !filepath.IsAbs(hw) {
		hw = filepath.Join(in.dir, hw)
	}
	existing, err := readFile(hw)
	switch {
	case errors.Is(err, os.ErrNotExist):
		for _, c := range plan.Changes {
			if c.Create && c.Path == hw {
				// Both targets extend the same file name (a hand-made
				// layout): one file cannot hold both sets of sections.
				return nil, newError(ErrManual, "Point the two extends blocks at hwaccel.ml.yml and hwaccel.transcoding.yml, or use --inline.",
					"the machine-learning and the transcoding sections would both be written to %s", hw)
			}
		}
		plan.Changes = append(plan.Changes, FileChange{Path: hw, Create: true,
			Diff: UnifiedDiff("", "b/"+filepath.Base(hw), nil, res.Sections), New: res.Sections, mode: 0o644})
		plan.Notes = append(plan.Notes, fmt.Sprintf("%s is missing next to the compose file; it will be written from %s", res.ExtendsFile, sourceName(opts, res.Target)))
		if in.viaLink {
			plan.Notes = append(plan.Notes, fmt.Sprintf("%s is a link to %s; %s goes in %s, where Compose looks for it when run with the link", opts.File, in.path, res.ExtendsFile, in.dir))
		}
		return res.Sections, nil
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", hw, err)
	}
	if err := plan.keepHwaccelFile(hw, existing, res, opts); err != nil {
		return nil, err
	}
	return existing, nil
}

// keepHwaccelFile checks an existing hwaccel.ml.yml the result extends,
// and notes how it differs from the sections immich-accel would write.
func (plan *Plan) keepHwaccelFile(hw string, existing []byte, res *EditResult, opts Options) error {
	fix := "Replace it with Immich's current " + res.Target.spec().fileName + " (delete it and run again to have it written)."
	secs, err := loadSections(existing)
	if err != nil {
		return newError(ErrManual, fix, "%s: %v", hw, err)
	}
	if secs.get(res.Section()) == nil {
		return newError(ErrManual, fix, "%s has no %s section (it has: %s); it predates that %s", hw, res.Section(), strings.Join(secs.names(), ", "), res.Target.spec().what)
	}
	// Only the chosen section matters: a file written earlier with another
	// backend's host tailoring is no surprise.
	if sameSection(existing, res.Sections, res.Section()) {
		return nil
	}
	if len(opts.GPUs) > 0 && res.Target == TargetML {
		return newError(ErrManual, "Use --inline to put the GPU selection into the service, or set device_ids in your hwaccel.ml.yml by hand.",
			"--gpus cannot be applied: the existing %s is kept as it is", res.ExtendsFile)
	}
	msg := fmt.Sprintf("kept your %s, whose %s section differs from %s", res.ExtendsFile, res.Section(), sourceName(opts, res.Target))
	if res.Tailored {
		msg += "; the host-specific changes above were not applied to it (use --inline, or edit it)"
	}
	plan.Notes = append(plan.Notes, msg)
	return nil
}

// addStackNote warns when the file belongs to a stack manager that
// usually cannot read a second file.
func (plan *Plan) addStackNote(res *EditResult, inline bool) {
	if !inline && res.StackKind != "" && res.Section() != "cpu" {
		note := fmt.Sprintf("this looks like %s, which usually cannot read a second file such as %s: re-run with --inline to merge the section into the service instead", stackKindNames[res.StackKind], res.Target.spec().fileName)
		if !slices.Contains(plan.Notes, note) {
			plan.Notes = append(plan.Notes, note)
		}
	}
}

// sameSection reports whether two hwaccel.ml.yml texts define the backend's
// section the same way (same keys and values; layout and comments aside).
func sameSection(a, b []byte, backend string) bool {
	sa, err := loadSections(a)
	if err != nil {
		return false
	}
	sb, err := loadSections(b)
	if err != nil {
		return false
	}
	na, nb := sa.get(backend), sb.get(backend)
	if na == nil || nb == nil {
		return na == nb
	}
	var va, vb any
	if na.Decode(&va) != nil || nb.Decode(&vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// stackKindNames names each Inspection.StackKind for users.
var stackKindNames = map[string]string{
	"portainer": "a Portainer stack (stack.env)",
	"unraid":    "an Unraid stack (net.unraid.docker labels)",
	"casaos":    "a CasaOS app (x-casaos)",
	"runtipi":   "a runtipi app",
}

func sourceName(opts Options, t Target) string {
	if opts.HwaccelFile != "" && t == TargetML {
		return opts.HwaccelFile
	}
	return "Immich's current " + t.spec().fileName + " (built in)"
}

// WriteOptions controls Write.
type WriteOptions struct {
	// NoBackup skips writing <file>.bak.
	NoBackup bool

	syncDir func(dir string) error // syncDir unless set (tests)
}

// Written reports what Write did.
type Written struct {
	Files  []string `json:"files"`
	Backup string   `json:"backup,omitempty"` // the compose file's
	// Backups are every backup written (the compose file's, the .env's).
	Backups []string `json:"backups,omitempty"`
}

// Write writes the plan's changes: each file atomically (temp file in the
// same directory, fsync, rename, fsync of the directory), keeping its mode
// and owner, after a backup of the compose file. It refuses when a file
// changed since Prepare read it. When a directory cannot be synced after
// the rename, the file is in place but may not survive a crash: Write stops
// there with an error that wraps ErrNotDurable, and Written lists that file.
func (p *Plan) Write(opts WriteOptions) (*Written, error) {
	w := &Written{Files: []string{}}
	if opts.syncDir == nil {
		opts.syncDir = syncDir
	}
	for _, c := range p.Changes {
		if c.Create {
			if _, err := os.Lstat(c.Path); err == nil {
				return w, newError(ErrChangedOnDisk, "Run the command again.", "%s appeared since it was checked", c.Path)
			}
			continue
		}
		cur, err := readFile(c.Path)
		if err != nil {
			return w, fmt.Errorf("re-reading %s: %w", c.Path, err)
		}
		if !bytes.Equal(cur, c.Old) {
			return w, newError(ErrChangedOnDisk, "Run the command again to edit the current content.", "%s changed on disk since it was read; nothing was written", c.Path)
		}
	}
	// New files (hwaccel.ml.yml) first, so that the compose file never
	// points at a file that is not there yet.
	ordered := make([]FileChange, 0, len(p.Changes))
	for _, c := range p.Changes {
		if c.Create {
			ordered = append(ordered, c)
		}
	}
	for _, c := range p.Changes {
		if !c.Create {
			ordered = append(ordered, c)
		}
	}
	for _, c := range ordered {
		if !c.Create && !opts.NoBackup {
			bak := c.Path + ".bak"
			if _, err := os.Lstat(bak); err == nil {
				bak = c.Path + "." + time.Now().Format("20060102-150405") + ".bak"
			}
			err := atomicWrite(bak, c.Old, c.Path, c.mode, opts.syncDir)
			if err == nil || errors.Is(err, ErrNotDurable) {
				if c.Path == p.File {
					w.Backup = bak
				}
				w.Backups = append(w.Backups, bak)
			}
			if err != nil {
				return w, fmt.Errorf("writing backup %s: %w", bak, err)
			}
		}
		ref := c.Path
		if c.Create {
			ref = p.File
		}
		mode := c.mode
		if c.Create {
			if st, err := os.Stat(p.File); err == nil {
				mode = st.Mode().Perm() &^ 0o111
			}
		}
		err := atomicWrite(c.Path, c.New, ref, mode, opts.syncDir)
		if err == nil || errors.Is(err, ErrNotDurable) {
			w.Files = append(w.Files, c.Path)
		}
		if err != nil {
			return w, fmt.Errorf("writing %s: %w", c.Path, err)
		}
	}
	return w, nil
}

// atomicWrite writes data to path through a temporary file in the same
// directory, with the mode and owner of ref (when it exists), then syncs the
// directory with sync.
func atomicWrite(path string, data []byte, ref string, mode os.FileMode, sync func(string) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(mode.Perm()); err != nil {
		return err
	}
	if err = keepOwner(f, ref); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	// The rename is durable only once the directory is synced. The file is
	// in place by now, so a failure is reported without removing it.
	if err := sync(dir); err != nil {
		return fmt.Errorf("%w: %w", ErrNotDurable, err)
	}
	return nil
}

// syncDir fsyncs a directory so that a rename into it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening directory %s to sync it: %w", dir, err)
	}
	serr := d.Sync()
	cerr := d.Close()
	if serr != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, serr)
	}
	return cerr
}
