package cli

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/immich-accel/immich-accel/internal/testenv"
)

// releaseConfig is the part of .goreleaser.yaml that must agree with the code:
// the generate hook, the version stamp and the packaged files.
type releaseConfig struct {
	Before struct {
		Hooks []string `yaml:"hooks"`
	} `yaml:"before"`
	Builds []struct {
		Main         string   `yaml:"main"`
		Env          []string `yaml:"env"`
		Flags        []string `yaml:"flags"`
		Ldflags      []string `yaml:"ldflags"`
		ModTimestamp string   `yaml:"mod_timestamp"`
	} `yaml:"builds"`
	Archives []struct {
		Files []yaml.Node `yaml:"files"`
	} `yaml:"archives"`
	Nfpms []struct {
		Bindir   string `yaml:"bindir"`
		Contents []struct {
			Src      string `yaml:"src"`
			Dst      string `yaml:"dst"`
			Packager string `yaml:"packager"`
		} `yaml:"contents"`
	} `yaml:"nfpms"`
}

func loadReleaseConfig(t *testing.T) (releaseConfig, string) {
	t.Helper()
	root := testenv.ModuleRoot(t)
	b, err := os.ReadFile(filepath.Join(root, ".goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg releaseConfig
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf(".goreleaser.yaml: %v", err)
	}
	if len(cfg.Builds) != 1 || len(cfg.Archives) != 1 || len(cfg.Nfpms) != 1 {
		t.Fatalf(".goreleaser.yaml: want one build, one archive and one nfpm entry, got %d, %d, %d",
			len(cfg.Builds), len(cfg.Archives), len(cfg.Nfpms))
	}
	return cfg, root
}

// TestReleaseConfigStampsBuildinfo checks that the ldflags in .goreleaser.yaml
// set string variables that exist in internal/buildinfo, so that a renamed
// variable cannot silently leave release binaries saying "dev".
func TestReleaseConfigStampsBuildinfo(t *testing.T) {
	cfg, root := loadReleaseConfig(t)
	b := cfg.Builds[0]
	if b.Main != "./cmd/immich-accel" {
		t.Errorf("build main = %q, want ./cmd/immich-accel", b.Main)
	}
	if !slices.Contains(b.Env, "CGO_ENABLED=1") {
		t.Errorf("build env %v lacks CGO_ENABLED=1 (go-nvml and onnxruntime_go need cgo)", b.Env)
	}
	if !slices.Contains(b.Flags, "-trimpath") {
		t.Errorf("build flags %v lack -trimpath", b.Flags)
	}
	if b.ModTimestamp == "" {
		t.Error("build has no mod_timestamp; binaries would not be reproducible")
	}

	const pkg = "github.com/immich-accel/immich-accel/internal/buildinfo"
	stamped := map[string]bool{}
	re := regexp.MustCompile(`-X\s+([^\s=]+)\.(\w+)=`)
	for _, l := range b.Ldflags {
		for _, m := range re.FindAllStringSubmatch(l, -1) {
			if m[1] != pkg {
				t.Errorf("ldflags stamp %s.%s, outside %s", m[1], m[2], pkg)
				continue
			}
			stamped[m[2]] = true
		}
	}

	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, filepath.Join(root, "internal", "buildinfo", "buildinfo.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	stringVars := map[string]bool{}
	for _, d := range file.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, s := range gd.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				// -X only sets string variables that are uninitialised or
				// initialised to a string literal.
				isString := false
				if id, ok := vs.Type.(*ast.Ident); ok && id.Name == "string" {
					isString = true
				} else if vs.Type == nil && i < len(vs.Values) {
					lit, ok := vs.Values[i].(*ast.BasicLit)
					isString = ok && lit.Kind == token.STRING
				}
				stringVars[n.Name] = isString
			}
		}
	}
	for _, want := range []string{"Version", "Commit", "Date"} {
		if !stamped[want] {
			t.Errorf("ldflags do not stamp buildinfo.%s", want)
		}
	}
	for name := range stamped {
		if isString, ok := stringVars[name]; !ok || !isString {
			t.Errorf("ldflags stamp buildinfo.%s, which is not a string variable in buildinfo.go", name)
		}
	}
}

// TestReleaseConfigPackagesGeneratedFiles runs the generate hook from
// .goreleaser.yaml and checks that every generated file the archives and
// packages name exists, and that the packages put them where the shells and
// man look.
func TestReleaseConfigPackagesGeneratedFiles(t *testing.T) {
	cfg, _ := loadReleaseConfig(t)
	const genDir = ".cache/release"

	var hook []string
	for _, h := range cfg.Before.Hooks {
		if i := strings.Index(h, "go run ./cmd/immich-accel generate"); i >= 0 {
			hook = strings.Fields(h[i+len("go run ./cmd/immich-accel "):])
		}
	}
	if hook == nil {
		t.Fatal("no before hook runs 'go run ./cmd/immich-accel generate'")
	}
	out := t.TempDir()
	for i, a := range hook {
		if strings.HasPrefix(a, genDir) {
			hook[i] = filepath.Join(out, strings.TrimPrefix(a, genDir))
		}
	}
	f, _, errOut := generateTestFactory(map[string]string{"SOURCE_DATE_EPOCH": "1700000000"})
	if code := Run(context.Background(), f, hook); code != ExitOK {
		t.Fatalf("hook %v: exit code %d, stderr: %s", hook, code, errOut)
	}

	// The man pages are gzipped by a later hook; look for them unzipped.
	exists := func(src string) bool {
		src = strings.TrimSuffix(filepath.Join(out, strings.TrimPrefix(src, genDir)), ".gz")
		m, err := filepath.Glob(src)
		return err == nil && len(m) > 0
	}
	var srcs []string
	for _, n := range cfg.Archives[0].Files {
		src := n.Value
		if n.Kind == yaml.MappingNode {
			var file struct {
				Src string `yaml:"src"`
			}
			if err := n.Decode(&file); err != nil {
				t.Fatal(err)
			}
			src = file.Src
		}
		srcs = append(srcs, src)
	}
	dsts := map[string][]string{}
	for _, c := range cfg.Nfpms[0].Contents {
		srcs = append(srcs, c.Src)
		for _, p := range []string{"deb", "rpm"} {
			if c.Packager == "" || c.Packager == p {
				dsts[p] = append(dsts[p], c.Dst)
			}
		}
	}
	for _, src := range srcs {
		if strings.HasPrefix(src, genDir) && !exists(src) {
			t.Errorf("%s is packaged but the generate hook does not write it", src)
		}
	}

	if got := cfg.Nfpms[0].Bindir; got != "/usr/bin" {
		t.Errorf("nfpm bindir = %q, want /usr/bin", got)
	}
	want := map[string][]string{
		"deb": {"/usr/share/bash-completion/completions/immich-accel", "/usr/share/zsh/vendor-completions/_immich-accel",
			"/usr/share/fish/vendor_completions.d/immich-accel.fish", "/usr/share/man/man1/"},
		"rpm": {"/usr/share/bash-completion/completions/immich-accel", "/usr/share/zsh/site-functions/_immich-accel",
			"/usr/share/fish/vendor_completions.d/immich-accel.fish", "/usr/share/man/man1/"},
	}
	for p, ws := range want {
		for _, w := range ws {
			if !slices.Contains(dsts[p], w) {
				t.Errorf("%s package does not install %s (has %v)", p, w, dsts[p])
			}
		}
	}
}
