package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/immich-accel/immich-accel/internal/units"
)

// Styler colours text; iostreams.ColorScheme is one. Plain returns text
// unchanged.
type Styler interface {
	Bold(string) string
	Green(string) string
	Red(string) string
	Yellow(string) string
	Gray(string) string
}

// Plain is a Styler without colour.
type Plain struct{}

// Bold returns s.
func (Plain) Bold(s string) string { return s }

// Green returns s.
func (Plain) Green(s string) string { return s }

// Red returns s.
func (Plain) Red(s string) string { return s }

// Yellow returns s.
func (Plain) Yellow(s string) string { return s }

// Gray returns s.
func (Plain) Gray(s string) string { return s }

// HumanBytes formats b in MiB or GiB.
func HumanBytes(b uint64) string {
	if b >= 1<<30 {
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

func fmtMs(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v < 1:
		return fmt.Sprintf("%.3fms", v)
	case v < 100:
		return fmt.Sprintf("%.1fms", v)
	}
	return fmt.Sprintf("%.0fms", v)
}

const barWidth = 20

// bar is a bar of v against maxV, padded to barWidth so that coloured
// cells line up.
func bar(v, maxV float64) string {
	n := 0
	if maxV > 0 && v > 0 {
		n = max(1, int(math.Round(v/maxV*barWidth)))
	}
	return strings.Repeat("█", n) + strings.Repeat(" ", barWidth-n)
}

// WriteText prints the report as one table per model, then a summary of
// the providers that did not run. verbose adds percentiles, memory, the
// agreement per output and native library logs.
func (rep *Report) WriteText(w io.Writer, st Styler, verbose bool) error {
	if st == nil {
		st = Plain{}
	}
	writeHeader(w, rep)
	for _, mr := range rep.Models {
		fmt.Fprintln(w)
		writeModelHead(w, mr, st)
		if mr.Error != "" {
			fmt.Fprintf(w, "  %s %s\n", st.Red("✗"), mr.Error)
			continue
		}
		others := writeTable(w, mr, st)
		if verbose {
			writeVerbose(w, mr, st)
		}
		writeFallbacks(w, mr, st)
		writeThroughput(w, mr, st)
		writeFailures(w, others, st, verbose)
	}
	writeUnavailable(w, rep, st)
	return nil
}

// writeHeader names the runtime, the host and the settings.
func writeHeader(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "ONNX Runtime %s (%s), %s/%s, %d CPUs", rep.Runtime.Version, rep.Runtime.Path, rep.Host.OS, rep.Host.Arch, rep.Host.CPUs)
	threads := "default threads"
	switch t := rep.Settings.ProviderOptions.Threads; {
	case t == 1:
		threads = "1 thread"
	case t > 1:
		threads = fmt.Sprintf("%d threads", t)
	}
	fmt.Fprintf(w, ", %s, concurrency %d\n", threads, rep.Settings.Concurrency)
}

// writeModelHead names the model with its size, cost and inputs.
func writeModelHead(w io.Writer, mr *ModelReport, st Styler) {
	head := st.Bold(mr.Model.Name)
	var facts []string
	if mr.Model.Params > 0 {
		facts = append(facts, units.Count(mr.Model.Params)+"params")
	}
	if mr.Model.FLOPs > 0 {
		facts = append(facts, units.Count(mr.Model.FLOPs)+"FLOPs/inference")
	}
	for _, in := range mr.Inputs {
		facts = append(facts, fmt.Sprintf("%s %s %s", in.Name, dimString(in.Shape), in.Type))
	}
	if len(facts) > 0 {
		head += st.Gray("  " + strings.Join(facts, ", "))
	}
	fmt.Fprintln(w, head)
}

// writeTable prints a row per provider that ran and returns the others.
func writeTable(w io.Writer, mr *ModelReport, st Styler) (others []*ProviderRun) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  PROVIDER\tCREATE\tFIRST\tP50\tP95\tRUNS/S\tSPEEDUP\t\tMATCHES CPU\tON PROVIDER")
	maxSpeed := 0.0
	for _, pr := range mr.Results {
		maxSpeed = math.Max(maxSpeed, pr.Speedup)
	}
	for _, pr := range mr.Results {
		if pr.Outcome != OutcomeRan {
			others = append(others, pr)
			continue
		}
		speed := "-"
		if pr.Speedup > 0 {
			speed = fmt.Sprintf("%.2fx", pr.Speedup)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%.1f\t%s\t%s\t%s\t%s\n", pr.Provider.Key, fmtMs(pr.SessionCreateMs), fmtMs(pr.FirstRunMs),
			fmtMs(pr.Latency.P50), fmtMs(pr.Latency.P95), pr.Throughput, speed, st.Green(bar(pr.Speedup, maxSpeed)), agreeCell(pr, st), placementCell(pr, st))
	}
	tw.Flush()
	return others
}

// agreeCell is the MATCHES CPU column.
func agreeCell(pr *ProviderRun, st Styler) string {
	switch {
	case pr.Provider.Key == "cpu":
		return st.Gray("reference")
	case pr.Agrees == nil:
		return st.Yellow("not compared")
	case *pr.Agrees:
		return st.Green("✓ " + agreeSummary(pr))
	}
	return st.Red("✗ " + agreeSummary(pr))
}

// placementCell is the ON PROVIDER column.
func placementCell(pr *ProviderRun, st Styler) string {
	pl := pr.Placement
	if pl == nil {
		return "-"
	}
	onEP := fmt.Sprintf("%.0f%% nodes, %.0f%% time", 100*pl.NodeShare, 100*pl.TimeShare)
	if pl.NodeShare < 1 {
		onEP = st.Yellow(onEP)
	}
	return onEP
}

// writeFallbacks names the operators that fell back to the CPU.
func writeFallbacks(w io.Writer, mr *ModelReport, st Styler) {
	for _, pr := range mr.Results {
		if pl := pr.Placement; pl != nil && pl.NodesOnProvider < pl.Nodes {
			what := fmt.Sprintf("%d of %d nodes (%.0f%% of the time) ran on the CPU instead", pl.Nodes-pl.NodesOnProvider, pl.Nodes, 100*(1-pl.TimeShare))
			if pl.NodesOnProvider == 0 {
				what = fmt.Sprintf("all %d nodes ran on the CPU: this provider did not accelerate anything", pl.Nodes)
			}
			fmt.Fprintf(w, "  %s %s: %s (%s)\n", st.Yellow("!"), pr.Provider.Key, what, strings.Join(pl.CPUOps, ", "))
		}
	}
}

// writeThroughput gives the compute rate at the median, when the model's
// cost is known.
func writeThroughput(w io.Writer, mr *ModelReport, st Styler) {
	if mr.Model.FLOPs <= 0 {
		return
	}
	for _, pr := range mr.Results {
		if pr.Outcome == OutcomeRan && pr.Latency.P50 > 0 {
			fmt.Fprintf(w, "  %s\n", st.Gray(fmt.Sprintf("%s: %.1f GFLOP/s at the median", pr.Provider.Key, float64(mr.Model.FLOPs)/pr.Latency.P50/1e6)))
		}
	}
}

// writeFailures lists the providers that failed on this model; those that
// failed before any model are listed once, by writeUnavailable.
func writeFailures(w io.Writer, others []*ProviderRun, st Styler, verbose bool) {
	for _, pr := range others {
		if providerLevel(pr.Outcome) {
			continue
		}
		fmt.Fprintf(w, "  %s %s: %s: %s\n", st.Red("✗"), pr.Provider.Key, pr.Outcome.Label(), pr.Detail)
		if verbose && pr.Log != "" {
			fmt.Fprintln(w, indent(pr.Log, "      "))
		}
	}
}

func agreeSummary(pr *ProviderRun) string {
	worst := 1.0
	maxAbs := 0.0
	for _, a := range pr.Agreement {
		if !math.IsNaN(a.Cosine) {
			worst = math.Min(worst, a.Cosine)
		} else {
			worst = math.NaN()
		}
		maxAbs = math.Max(maxAbs, a.MaxAbsDiff)
	}
	return fmt.Sprintf("cos %.6f, max|Δ| %.2g", worst, maxAbs)
}

func writeVerbose(w io.Writer, mr *ModelReport, st Styler) {
	for _, pr := range mr.Results {
		if pr.Outcome != OutcomeRan {
			continue
		}
		l := pr.Latency
		fmt.Fprintf(w, "  %s %s\n", st.Bold(pr.Provider.Key), st.Gray(fmt.Sprintf(
			"runs %d  mean %s  p50 %s  p90 %s  p95 %s  p99 %s  min %s  max %s  sd %s",
			l.Count, fmtMs(l.Mean), fmtMs(l.P50), fmtMs(l.P90), fmtMs(l.P95), fmtMs(l.P99), fmtMs(l.Min), fmtMs(l.Max), fmtMs(l.Stddev))))
		mem := "peak host memory " + HumanBytes(pr.PeakHostBytes)
		if pr.PeakHostWholeProcess {
			mem += " (whole process)"
		}
		if pr.GPUBytes != nil {
			mem += ", GPU memory " + HumanBytes(*pr.GPUBytes)
		}
		fmt.Fprintf(w, "    %s\n", mem)
		for _, a := range pr.Agreement {
			fmt.Fprintf(w, "    output %s: max|Δ| %.3g, mean|Δ| %.3g, cosine %.7f (%s tolerance) %s\n", a.Output, a.MaxAbsDiff, a.MeanAbsDiff, a.Cosine, a.Precision, a.Detail)
		}
		if pl := pr.Placement; pl != nil && len(pl.CPUOps) > 0 {
			fmt.Fprintf(w, "    fell back to CPU: %s\n", strings.Join(pl.CPUOps, ", "))
		}
		if pr.Detail != "" {
			fmt.Fprintf(w, "    %s\n", pr.Detail)
		}
		if pr.Log != "" {
			fmt.Fprintln(w, indent(pr.Log, "    | "))
		}
	}
}

// writeUnavailable lists the providers that did not run on any model, once
// for all models.
func writeUnavailable(w io.Writer, rep *Report, st Styler) {
	type row struct {
		pr    *ProviderRun
		count int
	}
	var order []string
	rows := map[string]*row{}
	for _, mr := range rep.Models {
		for _, pr := range mr.Results {
			if !providerLevel(pr.Outcome) {
				continue
			}
			if rows[pr.Provider.Key] == nil {
				rows[pr.Provider.Key] = &row{pr: pr}
				order = append(order, pr.Provider.Key)
			}
			rows[pr.Provider.Key].count++
		}
	}
	if len(order) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, st.Bold("Other providers"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, k := range order {
		pr := rows[k].pr
		icon := st.Gray("-")
		if pr.Outcome == OutcomeLoadFailed || pr.Outcome == OutcomeNoDevice {
			icon = st.Red("✗")
		}
		fmt.Fprintf(tw, "  %s %s\t%s\t%s\n", icon, k, pr.Outcome.Label(), st.Gray(pr.Detail))
	}
	tw.Flush()
}

// providerLevel outcomes do not depend on the model: they are listed once.
func providerLevel(o Outcome) bool {
	switch o {
	case OutcomeNotInBuild, OutcomeNotORT, OutcomeLoadFailed, OutcomeNoDevice:
		return true
	}
	return false
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}
