package compose

import (
	"github.com/immich-accel/immich-accel/pkg/accel"

	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/immich-accel/immich-accel/templates"
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
	// ChangedLines is the number of lines the compose file diff removes
	// and adds.
	ChangedLines int `json:"changedLines"`
}

// Changed reports whether the plan writes anything.
func (p *Plan) Changed() bool { return len(p.Changes) > 0 }

// Prepare reads the files, edits them in memory, validates the result and
// returns the plan. Nothing is written.
func Prepare(ctx context.Context, opts Options) (*Plan, error) {
	path, err := filepath.EvalSymlinks(opts.File)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, newError(ErrNoComposeFile, "Check the path given with --file.", "compose file %s does not exist", opts.File)
		}
		return nil, fmt.Errorf("resolving %s: %w", opts.File, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading compose file: %w", err)
	}
	src, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading compose file: %w", err)
	}
	eo := opts.EditOptions
	if opts.HwaccelFile != "" {
		b, err := readFile(opts.HwaccelFile)
		if err != nil {
			return nil, fmt.Errorf("reading --hwaccel-file: %w", err)
		}
		if _, err := loadSections(b); err != nil {
			return nil, newError(ErrManual, "Pass a hwaccel.ml.yml-style file with services: per backend.", "--hwaccel-file %s: %v", opts.HwaccelFile, err)
		}
		eo.Sections = b
	}
	res, err := Edit(src, eo)
	if err != nil {
		return nil, err
	}
	plan := &Plan{File: path, Service: res.Service, Backend: res.Backend, Mode: "extends", Before: res.Before, Notes: append([]string{}, res.Notes...)}
	if eo.Inline {
		plan.Mode = "inline"
	}
	// Compose resolves relative paths (extends: file:, .env) from the
	// directory of the compose file as given, not of a symlink's target:
	// hwaccel.ml.yml belongs there.
	dir := filepath.Dir(path)
	if abs, err := filepath.Abs(opts.File); err == nil {
		dir = filepath.Dir(abs)
	}
	sections := res.Sections
	if res.Changed {
		plan.Changes = append(plan.Changes, FileChange{Path: path, Diff: UnifiedDiff("a/"+filepath.Base(path), "b/"+filepath.Base(path), src, res.Output),
			Old: src, New: res.Output, mode: st.Mode(), modTime: st.ModTime(), size: st.Size()})
		plan.ChangedLines = changedLines(src, res.Output)
	}
	if res.ExtendsFile != "" {
		hw := res.ExtendsFile
		if !filepath.IsAbs(hw) {
			hw = filepath.Join(dir, hw)
		}
		existing, err := readFile(hw)
		switch {
		case errors.Is(err, os.ErrNotExist):
			plan.Changes = append(plan.Changes, FileChange{Path: hw, Create: true,
				Diff: UnifiedDiff("", "b/"+filepath.Base(hw), nil, sections), New: sections, mode: 0o644})
			plan.Notes = append(plan.Notes, fmt.Sprintf("%s is missing next to the compose file; it will be written from %s", res.ExtendsFile, sourceName(opts)))
			if dir != filepath.Dir(path) {
				plan.Notes = append(plan.Notes, fmt.Sprintf("%s is a link to %s; %s goes in %s, where Compose looks for it when run with the link", opts.File, path, res.ExtendsFile, dir))
			}
		case err != nil:
			return nil, fmt.Errorf("reading %s: %w", hw, err)
		default:
			secs, lerr := loadSections(existing)
			if lerr != nil {
				return nil, newError(ErrManual, "Replace it with Immich's current hwaccel.ml.yml (delete it and run again to have it written).", "%s: %v", hw, lerr)
			}
			if secs.get(string(res.Backend)) == nil {
				return nil, newError(ErrManual, "Replace it with Immich's current hwaccel.ml.yml (delete it and run again to have it written).",
					"%s has no %s section (it has: %s); it predates that backend", hw, res.Backend, strings.Join(secs.names(), ", "))
			}
			// Only the chosen section matters: a file written earlier
			// with another backend's host tailoring is no surprise.
			differs := !sameSection(existing, sections, string(res.Backend))
			if differs && len(eo.GPUs) > 0 {
				return nil, newError(ErrManual, "Use --inline to put the GPU selection into the service, or set device_ids in your hwaccel.ml.yml by hand.",
					"--gpus cannot be applied: the existing %s is kept as it is", res.ExtendsFile)
			}
			if differs {
				msg := fmt.Sprintf("kept your %s, whose %s section differs from %s", res.ExtendsFile, res.Backend, sourceName(opts))
				if res.Tailored {
					msg += "; the host-specific changes above were not applied to it (use --inline, or edit it)"
				}
				plan.Notes = append(plan.Notes, msg)
			}
			sections = existing
		}
	}
	if !opts.SkipValidation {
		v, err := validate(ctx, src, res.Output, res, sections, dir)
		if err != nil {
			return nil, err
		}
		plan.Validation = v
	}
	if !eo.Inline && res.Before != nil && res.Before.StackKind != "" && res.Backend != "cpu" {
		plan.Notes = append(plan.Notes, fmt.Sprintf("this looks like %s, which usually cannot read a second file such as %s: re-run with --inline to merge the section into the service instead", stackKindNames[res.Before.StackKind], templates.HwaccelMLName))
	}
	if plan.Changes == nil {
		plan.Changes = []FileChange{}
	}
	return plan, nil
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

func sourceName(opts Options) string {
	if opts.HwaccelFile != "" {
		return opts.HwaccelFile
	}
	return "Immich's current hwaccel.ml.yml (built in)"
}

// WriteOptions controls Write.
type WriteOptions struct {
	// NoBackup skips writing <file>.bak.
	NoBackup bool
}

// Written reports what Write did.
type Written struct {
	Files  []string `json:"files"`
	Backup string   `json:"backup,omitempty"`
}

// Write writes the plan's changes: each file atomically (temp file in the
// same directory, fsync, rename, fsync of the directory), keeping its mode
// and owner, after a backup of the compose file. It refuses when a file
// changed since Prepare read it.
func (p *Plan) Write(opts WriteOptions) (*Written, error) {
	w := &Written{Files: []string{}}
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
			if err := atomicWrite(bak, c.Old, c.Path, c.mode); err != nil {
				return w, fmt.Errorf("writing backup %s: %w", bak, err)
			}
			w.Backup = bak
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
		if err := atomicWrite(c.Path, c.New, ref, mode); err != nil {
			return w, fmt.Errorf("writing %s: %w", c.Path, err)
		}
		w.Files = append(w.Files, c.Path)
	}
	return w, nil
}

// atomicWrite writes data to path through a temporary file in the same
// directory, with the mode and owner of ref (when it exists).
func atomicWrite(path string, data []byte, ref string, mode os.FileMode) (err error) {
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
	d, derr := os.Open(dir)
	if derr != nil {
		return nil
	}
	defer d.Close()
	_ = d.Sync()
	return nil
}
