package verify

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/immich-accel/immich-accel/pkg/detect"
)

// cgroup is the container's control group on the host: where its CPU time
// and its processes are read. v2 reads cpu.stat usage_usec, v1 cpuacct.usage
// (nanoseconds), both as the kernel's cgroup documentation defines them
// (https://docs.kernel.org/admin-guide/cgroup-v2.html#cpu-interface-files,
// https://docs.kernel.org/admin-guide/cgroup-v1/cpuacct.html).
type cgroup struct {
	fs  detect.HostFS
	dir string // host path of the cgroup directory
	v1  bool
}

// findCgroup locates the container's cgroup from its main process's
// /proc/<pid>/cgroup, or, when that is unreadable, by the directories
// Docker's systemd and cgroupfs drivers create for a container id.
func findCgroup(fs detect.HostFS, pid int, id string) (*cgroup, error) {
	var tried []string
	if pid > 0 {
		p := fmt.Sprintf("/proc/%d/cgroup", pid)
		txt, err := fs.ReadFile(p)
		if err == nil {
			for _, line := range strings.Split(txt, "\n") {
				parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
				if len(parts) != 3 {
					continue
				}
				if parts[0] == "0" && parts[1] == "" {
					if cg := (&cgroup{fs: fs, dir: "/sys/fs/cgroup" + parts[2]}); cg.usable() {
						return cg, nil
					}
					tried = append(tried, "/sys/fs/cgroup"+parts[2])
				}
				for _, ctl := range strings.Split(parts[1], ",") {
					if ctl != "cpuacct" {
						continue
					}
					for _, mount := range []string{"cpuacct", "cpu,cpuacct", "cpuacct,cpu"} {
						cg := &cgroup{fs: fs, dir: "/sys/fs/cgroup/" + mount + parts[2], v1: true}
						if cg.usable() {
							return cg, nil
						}
						tried = append(tried, cg.dir)
					}
				}
			}
		} else {
			tried = append(tried, p+" ("+err.Error()+")")
		}
	}
	if id != "" {
		for _, d := range []string{"/sys/fs/cgroup/system.slice/docker-" + id + ".scope", "/sys/fs/cgroup/docker/" + id} {
			if cg := (&cgroup{fs: fs, dir: d}); cg.usable() {
				return cg, nil
			}
			tried = append(tried, d)
		}
		for _, m := range []string{"cpuacct", "cpu,cpuacct"} {
			for _, d := range []string{"/system.slice/docker-" + id + ".scope", "/docker/" + id} {
				if cg := (&cgroup{fs: fs, dir: "/sys/fs/cgroup/" + m + d, v1: true}); cg.usable() {
					return cg, nil
				}
				tried = append(tried, "/sys/fs/cgroup/"+m+d)
			}
		}
	}
	return nil, fmt.Errorf("the container's cgroup was not found (tried %s)", strings.Join(tried, ", "))
}

func (c *cgroup) usable() bool {
	_, err := c.cpu()
	return err == nil
}

// cpu returns the cgroup's CPU time so far.
func (c *cgroup) cpu() (time.Duration, error) {
	if c.v1 {
		n, err := readUint(c.fs, c.dir+"/cpuacct.usage")
		return time.Duration(n), err
	}
	p := c.dir + "/cpu.stat"
	txt, err := c.fs.ReadFile(p)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", p, err)
	}
	for _, line := range strings.Split(txt, "\n") {
		if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				break
			}
			return time.Duration(n) * time.Microsecond, nil
		}
	}
	return 0, errors.New(p + " has no usage_usec line")
}

// pids lists the processes in the cgroup (host PIDs), children included
// for v2, where a container's cgroup may have sub-groups.
func (c *cgroup) pids() []int {
	var out []int
	dirs := []string{c.dir}
	for i := 0; i < len(dirs) && i < 64; i++ {
		txt, err := c.fs.ReadFile(dirs[i] + "/cgroup.procs")
		if err == nil {
			for _, f := range strings.Fields(txt) {
				if n, err := strconv.Atoi(f); err == nil && n > 0 {
					out = append(out, n)
				}
			}
		}
		for _, e := range c.fs.ReadDirNames(dirs[i]) {
			if c.fs.Exists(dirs[i] + "/" + e + "/cgroup.procs") {
				dirs = append(dirs, dirs[i]+"/"+e)
			}
		}
	}
	return out
}
