#!/usr/bin/env bash
# Rebuilds the fake host trees verify's device and cgroup readers are tested
# on. Each follows the real procfs/sysfs/cgroupfs layout; README.md says
# which host each stands for.
set -euo pipefail
cd "$(dirname "$0")"

ID=9a1f3c5e7b2d4f6a8c0e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a
R=""
f() { mkdir -p "$R$(dirname "$1")"; printf '%b' "$2" >"$R$1"; }
v2() { # cgroup v2 under Docker's systemd driver; main PID 4242, a worker 4250
	f /proc/4242/cgroup "0::/system.slice/docker-$ID.scope\n"
	f /proc/4250/cgroup "0::/system.slice/docker-$ID.scope\n"
	f /sys/fs/cgroup/system.slice/docker-$ID.scope/cgroup.procs "4242\n4250\n"
	f /sys/fs/cgroup/system.slice/docker-$ID.scope/cpu.stat "usage_usec 81234567\nuser_usec 70000000\nsystem_usec 11234567\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n"
}

rm -rf */root

R=amd-rx7900/root
v2
f /sys/class/drm/card1/device/gpu_busy_percent "63\n"
f /sys/class/drm/card1/device/mem_info_vram_used "2147483648\n"
f /sys/class/drm/card1/device/mem_info_vram_total "25753026560\n"
f /sys/class/drm/card1-DP-1/status "connected\n"
f /sys/class/drm/renderD128/dev "226:128\n"

R=intel-arc-i915/root
v2
f /proc/4250/fdinfo/0 "pos:\t0\nflags:\t0100002\nmnt_id:\t26\nino:\t5\n"
f /proc/4250/fdinfo/7 "pos:\t0\nflags:\t02100002\nmnt_id:\t26\nino:\t685\ndrm-driver:\ti915\ndrm-client-id:\t12\ndrm-pdev:\t0000:03:00.0\ndrm-total-system0:\t0\ndrm-resident-local0:\t524288 KiB\ndrm-engine-render:\t1000000000 ns\ndrm-engine-copy:\t0 ns\ndrm-engine-video:\t0 ns\ndrm-engine-capacity-video:\t2\ndrm-engine-video-enhance:\t0 ns\ndrm-engine-compute:\t5000000000 ns\n"
cp "$R/proc/4250/fdinfo/7" "$R/proc/4250/fdinfo/8" # a dup of the same client
f /proc/4250/fdinfo/9 "pos:\t0\nflags:\t02100002\nmnt_id:\t26\nino:\t686\ndrm-driver:\tamdgpu\ndrm-client-id:\t3\ndrm-pdev:\t0000:0b:00.0\ndrm-engine-gfx:\t900000000 ns\n"

R=intel-xe/root
v2
f /proc/4250/fdinfo/5 "pos:\t0\nflags:\t02100002\nmnt_id:\t26\nino:\t700\ndrm-driver:\txe\ndrm-client-id:\t4\ndrm-pdev:\t0000:00:02.0\ndrm-total-gtt:\t16 MiB\ndrm-resident-gtt:\t16 MiB\ndrm-cycles-rcs:\t100000\ndrm-total-cycles-rcs:\t1000000\ndrm-cycles-ccs:\t200000\ndrm-total-cycles-ccs:\t1000000\n"

R=rk3588-npu/root
# cgroup v1 (the vendor BSP kernels of Rockchip boards often boot with it)
f /proc/4242/cgroup "12:pids:/docker/$ID\n5:cpu,cpuacct:/docker/$ID\n1:name=systemd:/docker/$ID\n"
f /sys/fs/cgroup/cpu,cpuacct/docker/$ID/cpuacct.usage "42000000000\n"
f /sys/fs/cgroup/cpu,cpuacct/docker/$ID/cgroup.procs "4242\n4250\n"
f /sys/kernel/debug/rknpu/load "NPU load:  Core0: 35%, Core1: 12%, Core2:  0%,\n"

R=nvidia-desktop/root
v2
