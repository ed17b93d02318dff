package compose

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// uiHeldVariables are the stacks whose variables live in their manager's
// UI rather than in a .env file next to the compose file, and where there
// to set them.
var uiHeldVariables = map[string]string{
	"portainer": "Portainer (Stacks → your stack → Editor → Environment variables), then click \"Update the stack\"",
	"casaos":    "the app's settings in CasaOS (Environment variables), then save",
	"runtipi":   "the app's user-config/<app>/app.env in runtipi, then restart the app",
}

// readEnv reads the .env file Compose reads for the project (or
// --env-file); for a Portainer stack without one, its stack.env, which
// holds what Portainer's UI sets.
func readEnv(in *inputs, opts Options) (*envFile, error) {
	given := opts.EnvFile
	if given == "" && opts.LookupEnv != nil {
		// docker compose takes COMPOSE_ENV_FILES when --env-file is not
		// given.
		if v, ok := opts.LookupEnv("COMPOSE_ENV_FILES"); ok && v != "" {
			if strings.Contains(v, ",") {
				return nil, newError(ErrManual, "Name the one env file to edit with --env-file, or unset COMPOSE_ENV_FILES.",
					"COMPOSE_ENV_FILES names several env files (%s); immich-accel reads and edits one", v)
			}
			given = v
		}
	}
	if given == "" && stackKindText(in.src) == "portainer" {
		if st, err := os.Stat(filepath.Join(in.dir, "stack.env")); err == nil && st.Mode().IsRegular() {
			if _, err := os.Stat(filepath.Join(in.dir, ".env")); err != nil {
				given = filepath.Join(in.dir, "stack.env")
			}
		}
	}
	return projectEnvFile(in.dir, given)
}

// addEnvFile plans the .env change the edit needs: the file changed in
// place or created, with a diff; for a stack whose variables live in a
// UI, a note saying what to set there instead. It also says when the
// process environment overrides what the .env sets, as it does for
// Compose.
func (plan *Plan) addEnvFile(env *envFile, res *EditResult, opts Options) error {
	final := env.vars
	for _, v := range res.Env {
		final = withVar(final, v.Name, v.Value)
	}
	if opts.LookupEnv != nil {
		for _, name := range res.Variables {
			if pv, ok := opts.LookupEnv(name); ok && pv != final[name] {
				want := "unset it"
				if _, set := final[name]; set {
					want = fmt.Sprintf("unset it (or set it to %q)", final[name])
				}
				plan.Notes = append(plan.Notes, fmt.Sprintf("%s is set in this shell's environment (to %q), which overrides %s for docker compose: %s before running docker compose", name, pv, envName(opts.EnvFile), want))
			}
		}
	}
	if len(res.Env) == 0 {
		return nil
	}
	if env.disabled {
		var sets []string
		for _, v := range res.Env {
			sets = append(sets, v.Name+"="+v.Value)
		}
		return newError(ErrManual, fmt.Sprintf("Set %s in the environment docker compose runs with, or unset COMPOSE_DISABLE_ENV_FILE, then run again.", strings.Join(sets, " ")),
			"COMPOSE_DISABLE_ENV_FILE is set, so docker compose does not read %s, where the backend's variables would go", env.given)
	}
	if where, ok := uiHeldVariables[stackKind(res)]; ok {
		var sets []string
		for _, v := range res.Env {
			sets = append(sets, v.Name+"="+v.Value)
		}
		plan.SetInUI = res.Env
		plan.Notes = append(plan.Notes, fmt.Sprintf("this stack keeps its variables in its manager: set %s in %s", strings.Join(sets, " and "), where))
		return nil
	}
	out, err := env.with(res.Env)
	if err != nil {
		return err
	}
	name := filepath.Base(env.given)
	if !env.exists {
		plan.Changes = append(plan.Changes, FileChange{Path: env.path, Create: true,
			Diff: UnifiedDiff("", "b/"+name, nil, out), New: out, mode: 0o644})
		plan.Notes = append(plan.Notes, fmt.Sprintf("%s does not exist next to the compose file; it will be created with what selects the backend", name))
		return nil
	}
	plan.Changes = append(plan.Changes, FileChange{Path: env.path, Diff: UnifiedDiff("a/"+name, "b/"+name, env.src, out),
		Old: env.src, New: out, mode: env.mode, size: env.size})
	return nil
}

func stackKind(res *EditResult) string {
	if res.Before == nil {
		return ""
	}
	return res.Before.StackKind
}
