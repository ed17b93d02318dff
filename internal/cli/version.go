package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/immich-accel/immich-accel/internal/buildinfo"
)

func versionLine() string {
	in := buildinfo.Get()
	s := "immich-accel " + in.Version
	if in.Commit != "" {
		c := in.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		s += " (" + c
		if in.Date != "" {
			s += ", " + in.Date
		}
		s += ")"
	}
	return s + " " + runtime.GOOS + "/" + runtime.GOARCH
}

type versionReport struct {
	buildinfo.Info
	Platform   string             `json:"platform"`
	Components []ComponentVersion `json:"components"`
}

func newCmdVersion(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, and the ONNX Runtime and NVML libraries found here",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return writeVersion(f, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

// writeVersion prints the build stamp and the runtime libraries found on
// this host (the same for `version` and `--version`).
func writeVersion(f *Factory, asJSON bool) error {
	rep := versionReport{Info: buildinfo.Get(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if f.ComponentVersions != nil {
		rep.Components = f.ComponentVersions()
	}
	if rep.Components == nil {
		rep.Components = []ComponentVersion{}
	}
	if asJSON {
		return f.IOStreams.WriteJSON(rep)
	}
	out := f.IOStreams.Out
	fmt.Fprintln(out, versionLine())
	for _, c := range rep.Components {
		v := c.Version
		if v == "" {
			v = "not found"
		}
		if c.Detail != "" {
			v += " (" + c.Detail + ")"
		}
		fmt.Fprintf(out, "  %-14s %s\n", c.Name+":", v)
	}
	return nil
}
