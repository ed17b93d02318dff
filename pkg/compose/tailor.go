package compose

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

const (
	libmaliTarget  = "/usr/lib/libmali.so"
	maliFirmware   = "/lib/firmware/mali_csffw.bin"
	defaultLibmali = "/usr/lib/libmali.so"
)

// tailorSections adapts the hwaccel.ml.yml text to the host for the chosen
// backend, editing only the lines concerned: the libmali.so mount source
// and the firmware mount for armnn, and device_ids for cuda with --gpus.
func tailorSections(src []byte, backend string, opts EditOptions) ([]byte, []string, error) {
	secs, err := sectionsFor(src)
	if err != nil {
		return nil, nil, err
	}
	sec := resolve(mapGet(secs.services, backend))
	if sec == nil {
		return src, nil, nil
	}
	t := newText(src)
	pt := &patch{t: t}
	var notes []string
	h := opts.Host
	switch backend {
	case "armnn":
		if !h.Known {
			break
		}
		vols := resolve(mapGet(sec, "volumes"))
		if vols == nil || vols.Kind != yaml.SequenceNode {
			break
		}
		for _, it := range vols.Content {
			if it.Kind != yaml.ScalarNode {
				continue
			}
			switch itemKey("volumes", it) {
			case libmaliTarget:
				src := strings.SplitN(it.Value, ":", 2)[0]
				if h.LibMaliPath == "" {
					notes = append(notes, "libmali.so was not found on this host; armnn needs the Mali userspace driver at "+src+" (install it, or mount it from where your vendor image has it)")
					continue
				}
				if h.LibMaliPath != src {
					line := t.lines[it.Line-1]
					if i := strings.Index(line, src+":"); i >= 0 {
						pt.setLine(it.Line-1, line[:i]+h.LibMaliPath+line[i+len(src):])
						notes = append(notes, "mounting libmali.so from "+h.LibMaliPath+", where this host has it")
					}
				}
			case maliFirmware:
				if !h.MaliFirmware {
					pt.remove(it.Line-1, it.Line)
					notes = append(notes, "left out the "+maliFirmware+" mount: this host has no such file (not every Mali driver needs it)")
				}
			}
		}
	case "cuda":
		if len(opts.GPUs) == 0 {
			if h.Known && h.NVIDIAGPUs > 1 {
				notes = append(notes, "this host has several NVIDIA GPUs; count: 1 lets Docker pick one; use --gpus 0,1 to choose")
			}
			break
		}
		devs := pathGet(sec, "deploy.resources.reservations.devices")
		if devs == nil || devs.Kind != yaml.SequenceNode || len(devs.Content) == 0 {
			break
		}
		ck, _ := mapEntry(resolve(devs.Content[0]), "count")
		if ck == nil {
			break
		}
		var ids []string
		for _, g := range opts.GPUs {
			ids = append(ids, "'"+strings.ReplaceAll(g, "'", "''")+"'")
		}
		line := t.lines[ck.Line-1]
		pt.setLine(ck.Line-1, line[:indentOf(line)]+"device_ids: ["+strings.Join(ids, ", ")+"]")
		notes = append(notes, "reserving NVIDIA GPU(s) "+strings.Join(opts.GPUs, ", ")+" (device_ids) instead of count: 1")
	}
	if len(pt.edits) == 0 {
		return src, notes, nil
	}
	out, err := pt.apply()
	return out, notes, err
}
