#!/usr/bin/env bash
# Rebuilds the fake host trees under testdata/hosts/<scenario>/root from the
# descriptions below. Each tree follows the real sysfs/procfs/dev layout
# (relative symlinks as the kernel makes them; /dev nodes are plain files).
# NVML answers (nvml.json), Docker answers (docker.json, docker-logs.txt),
# compose files and READMEs are kept by hand next to each root/.
set -euo pipefail
cd "$(dirname "$0")"

R=""   # current root

f() { # f PATH CONTENT: write a file (content may contain \0 via printf %b)
	mkdir -p "$R$(dirname "$1")"
	printf '%b' "$2" >"$R$1"
}
node() { f "$1" ""; } # a /dev node, as a plain file
linux() { # linux OSRELEASE MACHINE PRETTY
	f /proc/sys/kernel/ostype "Linux\n"
	f /proc/sys/kernel/osrelease "$1\n"
	f /proc/sys/kernel/arch "$2\n"
	f /proc/version "Linux version $1 (buildd@lcy02-amd64) (gcc 13.2.0) #1 SMP PREEMPT_DYNAMIC\n"
	f /etc/os-release "PRETTY_NAME=\"$3\"\nID=linux\n"
	node /dev/null
}
groups() { # groups VIDEO RENDER
	f /etc/group "root:x:0:\nvideo:x:$1:\nrender:x:$2:\ndocker:x:999:user\nuser:x:1000:\n"
}
cpu_x86() { # cpu_x86 MODEL CORES FLAGS
	local s="" i
	for ((i = 0; i < $2; i++)); do
		s+="processor\t: $i\nvendor_id\t: GenuineIntel\nmodel name\t: $1\ncpu cores\t: $2\nflags\t\t: $3\n\n"
	done
	f /proc/cpuinfo "$s"
}
cpu_arm() { # cpu_arm CORES FEATURES PART...
	local s="" i parts=("${@:3}")
	for ((i = 0; i < $1; i++)); do
		s+="processor\t: $i\nBogoMIPS\t: 48.00\nFeatures\t: $2\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x2\nCPU part\t: ${parts[$((i % ${#parts[@]}))]}\nCPU revision\t: 0\n\n"
	done
	f /proc/cpuinfo "$s"
}
pcidev() { # pcidev ADDR BRIDGE VENDOR DEVICE CLASS DRIVER [SUBVENDOR SUBDEVICE]
	local addr=$1 br=$2 ven=$3 dev=$4 class=$5 drv=$6 sv=${7:-$3} sd=${8:-0000}
	local dir=/sys/devices/pci0000:00
	[ -n "$br" ] && dir+=/$br
	dir+=/$addr
	f "$dir/vendor" "0x$ven\n"
	f "$dir/device" "0x$dev\n"
	f "$dir/class" "0x${class}00\n"
	f "$dir/subsystem_vendor" "0x$sv\n"
	f "$dir/subsystem_device" "0x$sd\n"
	local up; up=$(echo "${class:0:2}" | tr a-z A-Z); local sc; sc=$(echo "${class:2:2}" | tr a-z A-Z)
	f "$dir/modalias" "pci:v0000$(echo "$ven" | tr a-z A-Z)d0000$(echo "$dev" | tr a-z A-Z)sv0000$(echo "$sv" | tr a-z A-Z)sd0000$(echo "$sd" | tr a-z A-Z)bc${up}sc${sc}i00\n"
	f "$dir/revision" "0xa1\n"
	mkdir -p "$R/sys/bus/pci/devices" "$R/sys/bus/pci/drivers/$drv"
	local depth; depth=$(echo "$dir" | tr -cd / | wc -c)
	ln -sfn "../../..${dir#/sys}" "$R/sys/bus/pci/devices/$addr"
	if [ -n "$drv" ] && [ "$drv" != "-" ]; then
		local rel=""; for ((i = 1; i < depth; i++)); do rel+="../"; done
		ln -sfn "${rel}bus/pci/drivers/$drv" "$R$dir/driver"
	fi
	echo "$dir"
}
drm() { # drm DEVDIR N: card and render node for a device dir; N = card index
	local dir=$1 n=$2 r=$((128 + $2))
	mkdir -p "$R$dir/drm/card$n" "$R$dir/drm/renderD$r" "$R/sys/class/drm"
	ln -sfn "../../../$(basename "$dir")" "$R$dir/drm/renderD$r/device"
	ln -sfn "../../../$(basename "$dir")" "$R$dir/drm/card$n/device"
	f "$dir/drm/renderD$r/dev" "226:$r\n"
	local depth; depth=$(echo "$dir" | tr -cd / | wc -c)
	local rel=""; for ((i = 2; i < depth; i++)); do rel+="../"; done
	ln -sfn "../..${dir#/sys}/drm/card$n" "$R/sys/class/drm/card$n"
	ln -sfn "../..${dir#/sys}/drm/renderD$r" "$R/sys/class/drm/renderD$r"
	node "/dev/dri/card$n"
	node "/dev/dri/renderD$r"
}
platdev() { # platdev NAME DRIVER: a platform device bound to DRIVER
	local dir=/sys/devices/platform/$1
	mkdir -p "$R$dir" "$R/sys/bus/platform/drivers/$2"
	ln -sfn "../../../bus/platform/drivers/$2" "$R$dir/driver"
	echo "$dir"
}
dt() { f /proc/device-tree/compatible "$1"; f /proc/device-tree/model "$2\0"; }
docker_host() { # docker CLI, compose plugin, daemon socket
	node /usr/bin/docker
	node /usr/libexec/docker/cli-plugins/docker-compose
	node /var/run/docker.sock
}
toolkit() {
	for b in nvidia-ctk nvidia-container-runtime nvidia-container-runtime-hook nvidia-container-cli; do node /usr/bin/$b; done
	f /etc/nvidia-container-runtime/config.toml "#accept-nvidia-visible-devices-as-volume-mounts = false\n[nvidia-container-cli]\nldconfig = \"@/sbin/ldconfig.real\"\n"
	f /etc/docker/daemon.json '{\n    "runtimes": {\n        "nvidia": {\n            "args": [],\n            "path": "nvidia-container-runtime"\n        }\n    }\n}\n'
}
nvidia_proc() { # kernel module traces of the proprietary driver
	f /proc/driver/nvidia/version "NVRM version: NVIDIA UNIX x86_64 Kernel Module  $1\nGCC version:  gcc version 12.3.0\n"
	node /dev/nvidia0; node /dev/nvidiactl; node /dev/nvidia-uvm
	f /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1 ""
}
begin() { R="$1/root"; rm -rf "$R"; mkdir -p "$R"; }

XEON_FLAGS="fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ss ht syscall nx pdpe1gb rdtscp lm constant_tsc pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand lahf_lm abm 3dnowprefetch fsgsbase bmi1 avx2 smep bmi2 erms invpcid mpx rdseed adx smap clflushopt intel_pt xsaveopt xsavec xgetbv1 xsaves"
RYZEN_FLAGS="fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl pni pclmulqdq monitor ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand lahf_lm cmp_legacy svm extapic cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw ibs skinit wdt tce topoext perfctr_core perfctr_nb bpext perfctr_llc mwaitx cpb cat_l3 cdp_l3 hw_pstate ssbd mba ibrs ibpb stibp vmmcall fsgsbase bmi1 avx2 smep bmi2 erms invpcid cqm rdt_a rdseed adx smap clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 xsaves"
ZEN4_FLAGS="$RYZEN_FLAGS avx512f avx512dq avx512ifma avx512cd avx512bw avx512vl avx512_bf16 avx512vbmi avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni avx512_bitalg avx512_vpopcntdq"
N100_FLAGS="fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc art arch_perfmon pebs bts rep_good nopl xtopology nonstop_tsc cpuid aperfmperf tsc_known_freq pni pclmulqdq dtes64 monitor ds_cpl vmx est tm2 ssse3 sdbg fma cx16 xtpr pdcm sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand lahf_lm abm 3dnowprefetch cpuid_fault epb cat_l2 cdp_l2 ssbd ibrs ibpb stibp ibrs_enhanced tpr_shadow flexpriority ept vpid ept_ad fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid rdt_a rdseed adx smap clflushopt clwb intel_pt sha_ni xsaveopt xsavec xgetbv1 xsaves split_lock_detect avx_vnni dtherm ida arat pln pts hwp hwp_notify hwp_act_window hwp_epp hwp_pkg_req vnmi umip pku ospke waitpkg gfni vaes vpclmulqdq rdpid movdiri movdir64b fsrm md_clear serialize arch_lbr ibt flush_l1d arch_capabilities"
A76_FEATURES="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp"
A53_FEATURES="fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid"

# ---- no-gpu-server: Supermicro X11SCL-F, Xeon E-2236, ASPEED BMC graphics only
begin no-gpu-server
linux 6.8.0-45-generic x86_64 "Ubuntu 24.04.1 LTS"
groups 44 993
cpu_x86 "Intel(R) Xeon(R) E-2236 CPU @ 3.40GHz" 12 "$XEON_FLAGS"
d=$(pcidev 0000:04:00.0 0000:00:1c.0 1a03 2000 0300 ast 15d9 1b95)
mkdir -p "$R$d/drm/card0" "$R/sys/class/drm"; ln -sfn ../../devices/pci0000:00/0000:00:1c.0/0000:04:00.0/drm/card0 "$R/sys/class/drm/card0"; node /dev/dri/card0
docker_host

# ---- nvidia-desktop: Ryzen 7 5800X + GeForce RTX 3060 12 GB, driver 550, toolkit
begin nvidia-desktop
linux 6.8.0-45-generic x86_64 "Ubuntu 24.04.1 LTS"
groups 44 993
cpu_x86 "AMD Ryzen 7 5800X 8-Core Processor" 16 "$RYZEN_FLAGS"
d=$(pcidev 0000:0a:00.0 0000:00:03.1 10de 2504 0300 nvidia 1462 397d)
drm "$d" 0
nvidia_proc 550.120
toolkit
docker_host

# ---- nvidia-no-toolkit: i7-13700K + GeForce RTX 4070, driver 560, no container toolkit
begin nvidia-no-toolkit
linux 6.8.0-48-generic x86_64 "Ubuntu 24.04.1 LTS"
groups 44 993
cpu_x86 "13th Gen Intel(R) Core(TM) i7-13700K" 24 "$XEON_FLAGS avx_vnni"
d=$(pcidev 0000:01:00.0 0000:00:01.0 10de 2786 0300 nvidia 1043 8900)
drm "$d" 1
d=$(pcidev 0000:00:02.0 "" 8086 a780 0300 i915 1043 8882)
drm "$d" 0
nvidia_proc 560.35.03
docker_host

# ---- nvidia-old-driver: Debian 12, GeForce GTX 1660 SUPER, driver 535 from Debian
begin nvidia-old-driver
linux 6.1.0-26-amd64 x86_64 "Debian GNU/Linux 12 (bookworm)"
groups 44 105
cpu_x86 "Intel(R) Core(TM) i5-9400 CPU @ 2.90GHz" 6 "$XEON_FLAGS"
d=$(pcidev 0000:01:00.0 0000:00:01.0 10de 21c4 0300 nvidia 1458 4014)
drm "$d" 0
nvidia_proc 535.183.01
toolkit
docker_host

# ---- nvidia-gt710: GeForce GT 710 (Kepler, compute 3.5) on the 470 legacy driver
begin nvidia-gt710
linux 5.15.0-122-generic x86_64 "Ubuntu 22.04.5 LTS"
groups 44 110
cpu_x86 "Intel(R) Core(TM) i5-4590 CPU @ 3.30GHz" 4 "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ss ht syscall nx pdpe1gb rdtscp lm constant_tsc pni pclmulqdq ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand lahf_lm abm fsgsbase bmi1 avx2 smep bmi2 erms invpcid xsaveopt"
d=$(pcidev 0000:01:00.0 0000:00:01.0 10de 128b 0300 nvidia 1043 85f5)
drm "$d" 0
nvidia_proc 470.256.02
toolkit
docker_host

# ---- nvidia-rtx5090: Ryzen 9 9950X + GeForce RTX 5090 (Blackwell, compute 12.0), driver 570, CDI
begin nvidia-rtx5090
linux 6.11.0-19-generic x86_64 "Ubuntu 24.10"
groups 44 992
cpu_x86 "AMD Ryzen 9 9950X 16-Core Processor" 32 "$ZEN4_FLAGS"
d=$(pcidev 0000:01:00.0 0000:00:01.1 10de 2b85 0300 nvidia 10de 205f)
drm "$d" 0
nvidia_proc 570.133.07
toolkit
f /etc/cdi/nvidia.yaml "---\ncdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices:\n- name: \"0\"\n  containerEdits:\n    deviceNodes:\n    - path: /dev/nvidia0\n- name: all\n  containerEdits:\n    deviceNodes:\n    - path: /dev/nvidia0\n"
docker_host

# ---- wsl2-nvidia: Windows 11, WSL2 Ubuntu, GeForce RTX 4080, Docker Desktop
begin wsl2-nvidia
linux 5.15.167.4-microsoft-standard-WSL2 x86_64 "Ubuntu 24.04.1 LTS"
groups 44 992
cpu_x86 "Intel(R) Core(TM) i9-13900K" 32 "$XEON_FLAGS avx_vnni hypervisor"
node /dev/dxg
f /usr/lib/wsl/lib/libnvidia-ml.so.1 ""
f /usr/lib/wsl/lib/libcuda.so.1 ""
f /usr/lib/wsl/lib/libdxcore.so ""
f /usr/lib/wsl/lib/nvidia-smi ""
mkdir -p "$R/usr/lib/wsl/drivers/nv_dispi.inf_amd64_5c1a2c8a0e8b4e3d"
d=$(pcidev 5b04:00:00.0 "" 1414 008e 0302 -)
mkdir -p "$R/mnt/wsl/docker-desktop"
node /usr/bin/docker
node /root/.docker/cli-plugins/docker-compose
node /var/run/docker.sock

# ---- wsl2-intel: Windows 11 laptop, Core i7-1165G7 (Iris Xe), WSL2, Docker Engine in the distro (stopped)
begin wsl2-intel
linux 5.15.153.1-microsoft-standard-WSL2 x86_64 "Ubuntu 22.04.4 LTS"
groups 44 109
cpu_x86 "11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz" 8 "$XEON_FLAGS avx512f avx512dq avx512cd avx512bw avx512vl avx512_vnni hypervisor"
node /dev/dxg
node /dev/dri/card0
node /dev/dri/renderD128
f /usr/lib/wsl/lib/libdxcore.so ""
f /usr/lib/wsl/lib/libd3d12.so ""
mkdir -p "$R/usr/lib/wsl/drivers/iigd_dch.inf_amd64_8ee2a3b0b16e9b9f"
d=$(pcidev 3a1c:00:00.0 "" 1414 008e 0302 -)
node /usr/bin/docker
node /usr/libexec/docker/cli-plugins/docker-compose

# ---- intel-n100: Beelink Mini S12 Pro, Intel N100 (Alder Lake-N UHD Graphics)
begin intel-n100
linux 6.8.0-45-generic x86_64 "Ubuntu 24.04.1 LTS"
groups 44 993
cpu_x86 "Intel(R) N100" 4 "$N100_FLAGS"
d=$(pcidev 0000:00:02.0 "" 8086 46d1 0300 i915 8086 2212)
drm "$d" 0
docker_host

# ---- intel-arc: Ryzen 5 5600 + Intel Arc A770 16 GB on i915
begin intel-arc
linux 6.8.0-45-generic x86_64 "Ubuntu 24.04.1 LTS"
groups 44 993
cpu_x86 "AMD Ryzen 5 5600 6-Core Processor" 12 "$RYZEN_FLAGS"
d=$(pcidev 0000:03:00.0 0000:00:01.1/0000:01:00.0/0000:02:01.0 8086 56a0 0300 i915 8086 1020)
drm "$d" 0
docker_host

# ---- amd-rocm: Ryzen 5 5600X + Radeon RX 6700 XT (gfx1031), /dev/kfd
begin amd-rocm
linux 6.8.0-45-generic x86_64 "Ubuntu 24.04.1 LTS"
groups 44 993
cpu_x86 "AMD Ryzen 5 5600X 6-Core Processor" 12 "$RYZEN_FLAGS"
d=$(pcidev 0000:0b:00.0 0000:00:03.1/0000:09:00.0/0000:0a:00.0 1002 73df 0300 amdgpu 1da2 e445)
drm "$d" 0
node /dev/kfd
f /sys/class/kfd/kfd/topology/nodes/0/properties "cpu_cores_count 12\nsimd_count 0\ngfx_target_version 0\nvendor_id 0\n"
f /sys/class/kfd/kfd/topology/nodes/1/properties "cpu_cores_count 0\nsimd_count 80\ngfx_target_version 100301\nvendor_id 4098\ndevice_id 29663\n"
docker_host

# ---- rk3588-mali: Radxa ROCK 5B (RK3588), Mali-G610 on the vendor kbase driver, RKNPU 0.9.8
begin rk3588-mali
linux 6.1.43-15-rk2312 aarch64 "Debian GNU/Linux 12 (bookworm)"
groups 44 106
cpu_arm 8 "$A76_FEATURES" 0xd05 0xd05 0xd05 0xd05 0xd0b 0xd0b 0xd0b 0xd0b
dt 'radxa,rock-5b\0rockchip,rk3588\0' "Radxa ROCK 5B"
d=$(platdev fb000000.gpu mali)
mkdir -p "$R/sys/module/bifrost_kbase" "$R/sys/class/misc/mali0"
ln -sfn ../../../devices/platform/fb000000.gpu "$R/sys/class/misc/mali0/device"
f "$d/gpuinfo" "Mali-G610 4 cores r0p0 0xA867\n"
node /dev/mali0
d=$(platdev fdab0000.npu RKNPU)
mkdir -p "$R/sys/module/rknpu"
f /sys/kernel/debug/rknpu/version "RKNPU driver: v0.9.8\n"
f /usr/lib/aarch64-linux-gnu/libmali-valhall-g610-g13p0-x11-wayland-gbm.so ""
ln -sfn libmali-valhall-g610-g13p0-x11-wayland-gbm.so "$R/usr/lib/aarch64-linux-gnu/libmali.so.1"
ln -sfn aarch64-linux-gnu/libmali.so.1 "$R/usr/lib/libmali.so"
f /lib/firmware/mali_csffw.bin ""
docker_host

# ---- mali-libmali-elsewhere: Khadas VIM3 (Amlogic A311D, Mali-G52) on the vendor 4.9 kernel
begin mali-libmali-elsewhere
linux 4.9.241 aarch64 "Ubuntu 22.04.3 LTS"
groups 44 110
cpu_arm 6 "$A53_FEATURES" 0xd03 0xd03 0xd09 0xd09 0xd09 0xd09
dt 'khadas,vim3\0amlogic,a311d\0amlogic,g12b\0' "Khadas VIM3"
d=$(platdev ffe40000.bifrost mali)
mkdir -p "$R/sys/module/mali" "$R/sys/class/misc/mali0"
ln -sfn ../../../devices/platform/ffe40000.bifrost "$R/sys/class/misc/mali0/device"
f "$d/gpuinfo" "Mali-G52 2 cores r1p0 0x7212\n"
node /dev/mali0
f /usr/lib/aarch64-linux-gnu/libmali.so.1.9.0 ""
ln -sfn libmali.so.1.9.0 "$R/usr/lib/aarch64-linux-gnu/libmali.so.1"
docker_host

# ---- mali-panfrost: Radxa ROCK Pi 4B (RK3399, Mali-T860) on a mainline kernel with panfrost
begin mali-panfrost
linux 6.6.63-current-rockchip64 aarch64 "Armbian 24.11.1 bookworm"
groups 44 106
cpu_arm 6 "$A53_FEATURES" 0xd03 0xd03 0xd03 0xd03 0xd08 0xd08
dt 'radxa,rockpi4b\0radxa,rockpi4\0rockchip,rk3399\0' "Radxa ROCK Pi 4B"
d=$(platdev ff9a0000.gpu panfrost)
mkdir -p "$R/sys/module/panfrost" "$R$d/drm/card1" "$R$d/drm/renderD128" "$R/sys/class/drm"
ln -sfn ../../../ff9a0000.gpu "$R$d/drm/renderD128/device"
ln -sfn ../../devices/platform/ff9a0000.gpu/drm/renderD128 "$R/sys/class/drm/renderD128"
node /dev/dri/card1
node /dev/dri/renderD128
docker_host

# ---- nvidia-no-driver: Fedora 40, GeForce GTX 1080 on nouveau (no proprietary driver)
begin nvidia-no-driver
linux 6.10.11-200.fc40.x86_64 x86_64 "Fedora Linux 40 (Workstation Edition)"
groups 39 105
cpu_x86 "Intel(R) Core(TM) i7-8700K CPU @ 3.70GHz" 12 "$XEON_FLAGS"
d=$(pcidev 0000:01:00.0 0000:00:01.0 10de 1b80 0300 nouveau 3842 6183)
drm "$d" 0
docker_host

# ---- broken-proc: a container-like root with unreadable and malformed files
begin broken-proc
f /proc/sys/kernel/ostype "Linux\n"
mkdir -p "$R/proc/sys/kernel/osrelease"
f /proc/version "Linux versio"
f /proc/cpuinfo "garbage without a processor line\n\x00\x01\x02 flags\n"
f /proc/device-tree/compatible ""
f /etc/group "video:x:notanumber:\n:::\nrender\n"
f /etc/docker/daemon.json '{"runtimes": {"nvidia": '
mkdir -p "$R/sys/class/drm/renderD128"
f /sys/class/kfd/kfd/topology/nodes/1/properties "gfx_target_version banana\n"
f /sys/kernel/debug/rknpu/version "RKNPU driver: vX\n"
# ---- nvidia-a100: Supermicro AS-2124GQ, EPYC 7543, NVIDIA A100 80GB PCIe (no NVENC), driver 550, toolkit
begin nvidia-a100
linux 6.8.0-49-generic x86_64 "Ubuntu 24.04.1 LTS"
groups 44 993
cpu_x86 "AMD EPYC 7543 32-Core Processor" 64 "$RYZEN_FLAGS"
d=$(pcidev 0000:41:00.0 0000:40:01.1 10de 20b5 0302 nvidia 10de 1533)
nvidia_proc 550.127.05
toolkit
docker_host

# ---- rk3588-rkmpp: Orange Pi 5 Plus (RK3588), vendor 6.1 kernel with MPP, RGA, DMA heaps, Mali kbase and OpenCL
begin rk3588-rkmpp
linux 6.1.75-rockchip-rk3588 aarch64 "Ubuntu 22.04.5 LTS"
groups 44 105
cpu_arm 8 "$A76_FEATURES" 0xd05 0xd05 0xd05 0xd05 0xd0b 0xd0b 0xd0b 0xd0b
dt 'xunlong,orangepi-5-plus\0rockchip,rk3588\0' "Orange Pi 5 Plus"
d=$(platdev fb000000.gpu mali)
mkdir -p "$R/sys/module/bifrost_kbase" "$R/sys/class/misc/mali0"
ln -sfn ../../../devices/platform/fb000000.gpu "$R/sys/class/misc/mali0/device"
f "$d/gpuinfo" "Mali-G610 4 cores r0p0 0xA867\n"
node /dev/mali0
d=$(platdev fdab0000.npu RKNPU)
mkdir -p "$R/sys/module/rknpu"
f /sys/kernel/debug/rknpu/version "RKNPU driver: v0.9.8\n"
node /dev/rga
node /dev/mpp_service
node /dev/dma_heap/system
node /dev/dma_heap/cma
node /dev/dri/card0
node /dev/dri/renderD128
f /etc/OpenCL/vendors/mali.icd "libmali.so.1\n"
f /usr/lib/aarch64-linux-gnu/libmali-valhall-g610-g13p0-x11-wayland-gbm.so ""
ln -sfn libmali-valhall-g610-g13p0-x11-wayland-gbm.so "$R/usr/lib/aarch64-linux-gnu/libmali.so.1"
ln -sfn aarch64-linux-gnu/libmali.so.1 "$R/usr/lib/libmali.so"
f /lib/firmware/mali_csffw.bin ""
docker_host

# ---- wsl2-quicksync: Windows 11 desktop, Core i5-12500 (UHD 770), WSL2, Docker Desktop, server set to Quick Sync
begin wsl2-quicksync
linux 5.15.167.4-microsoft-standard-WSL2 x86_64 "Ubuntu 24.04.1 LTS"
groups 44 992
cpu_x86 "12th Gen Intel(R) Core(TM) i5-12500" 12 "$XEON_FLAGS avx_vnni hypervisor"
node /dev/dxg
node /dev/dri/card0
node /dev/dri/renderD128
f /usr/lib/wsl/lib/libdxcore.so ""
f /usr/lib/wsl/lib/libd3d12.so ""
f /usr/lib/wsl/lib/libd3d12core.so ""
mkdir -p "$R/usr/lib/wsl/drivers/iigd_dch.inf_amd64_3f5a1c0e2b7d9a14"
d=$(pcidev 4d2e:00:00.0 "" 1414 008e 0302 -)
mkdir -p "$R/mnt/wsl/docker-desktop"
node /usr/bin/docker
node /root/.docker/cli-plugins/docker-compose
node /var/run/docker.sock

# git keeps no empty directories: mark them so driver and module
# directories survive a checkout.
find ./*/root -type d -empty -exec touch {}/.keep \;
echo "built $(ls -d ./*/root | wc -l) host trees"
