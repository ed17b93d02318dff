package bench

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// ErrNothingToPlot is returned by WritePlot when no provider ran.
var ErrNothingToPlot = errors.New("no latencies to plot: no provider ran")

// WritePlot draws the warm-run latency distribution of every provider that
// ran on every model as box plots (median, quartiles, whiskers, outliers)
// and saves it to file; the extension picks the format (.svg or .png).
// The latency axis is logarithmic when the latencies span more than a
// factor of 20.
func (rep *Report) WritePlot(file string) error {
	ext := strings.ToLower(filepath.Ext(file))
	if ext != ".svg" && ext != ".png" {
		return fmt.Errorf("--plot %s: the file name must end in .svg or .png", file)
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Warm-run latency, ONNX Runtime %s", rep.Runtime.Version)
	p.Y.Label.Text = "latency (ms)"
	var names []string
	lo, hi := math.Inf(1), 0.0
	for _, mr := range rep.Models {
		for _, pr := range mr.Results {
			if pr.Outcome != OutcomeRan || len(pr.SamplesMs) == 0 {
				continue
			}
			vals := make(plotter.Values, len(pr.SamplesMs))
			copy(vals, pr.SamplesMs)
			for _, v := range vals {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
			b, err := plotter.NewBoxPlot(vg.Points(18), float64(len(names)), vals)
			if err != nil {
				return fmt.Errorf("--plot: %w", err)
			}
			p.Add(b)
			names = append(names, mr.Model.Name+"\n"+pr.Provider.Key)
		}
	}
	if len(names) == 0 {
		return ErrNothingToPlot
	}
	if lo > 0 && hi/lo > 20 {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	p.NominalX(names...)
	p.Add(plotter.NewGrid())
	width := vg.Length(math.Max(4, 1.1*float64(len(names)))) * vg.Inch
	if err := p.Save(width, 4*vg.Inch, file); err != nil {
		return fmt.Errorf("--plot: writing %s: %w", file, err)
	}
	return nil
}
