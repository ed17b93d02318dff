#!/usr/bin/env bash
# release-check: build a local snapshot release with GoReleaser and check it.
#
# Runs on a clean Debian/Ubuntu machine with only Go and apt: installs what is
# missing (the arm64 cross compiler, qemu-user, binutils, rpm and a
# pinned GoReleaser), runs `goreleaser check` and
# `goreleaser release --snapshot --clean`, then checks
#   - both archives, all four packages (.deb and .rpm for amd64 and arm64) and
#     checksums.txt exist, and every checksum matches;
#   - archives and packages hold the binary, licence, completions and man pages
#     in their places;
#   - each binary is built with cgo, needs only glibc libraries to start, and
#     prints the stamped version (the arm64 one under qemu-aarch64), and runs
#     `doctor` where this build has it;
#   - the packages require at least the glibc the binaries were linked against;
#   - a second build of the same commit gives identical files.
#
# Pipelines into grep use `grep ... >/dev/null`, not `grep -q`: with pipefail,
# grep -q exiting early would fail the pipeline by SIGPIPE.
#
# Environment:
#   GORELEASER   use this goreleaser binary instead of installing the pinned one
#   GOBIN_DIR    where the pinned goreleaser is installed (default .cache/bin)
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD

GORELEASER_MODULE=github.com/goreleaser/goreleaser/v2
GORELEASER_VERSION=v2.15.1
GOBIN_DIR=${GOBIN_DIR:-$root/.cache/bin}
DIST=$root/dist

step() { printf '\n==> %s\n' "$*"; }
fail() {
	echo "release-check: FAIL: $*" >&2
	exit 1
}
ok() { echo "  ok: $*"; }

# --- tools -------------------------------------------------------------------

step "tools"
pkgs=()
command -v x86_64-linux-gnu-gcc >/dev/null || pkgs+=(gcc)
command -v aarch64-linux-gnu-gcc >/dev/null || pkgs+=(gcc-aarch64-linux-gnu)
[ -e /usr/aarch64-linux-gnu/lib/libc.so.6 ] || pkgs+=(libc6-dev-arm64-cross)
command -v qemu-aarch64 >/dev/null || pkgs+=(qemu-user)
command -v readelf >/dev/null || pkgs+=(binutils)
command -v rpm >/dev/null || pkgs+=(rpm)
command -v gzip >/dev/null || pkgs+=(gzip)
command -v git >/dev/null || pkgs+=(git)
if [ ${#pkgs[@]} -gt 0 ]; then
	sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || fail "need root or sudo to install: ${pkgs[*]}"
		sudo=(sudo)
	fi
	echo "  installing with apt-get: ${pkgs[*]}"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi
ok "C compilers: $(x86_64-linux-gnu-gcc -dumpversion) (amd64), $(aarch64-linux-gnu-gcc -dumpversion) (arm64)"
ok "$(qemu-aarch64 --version | head -n1)"

if [ -z "${GORELEASER:-}" ]; then
	GORELEASER=$GOBIN_DIR/goreleaser
	if ! go version -m "$GORELEASER" 2>/dev/null | grep -E "^[[:space:]]+mod[[:space:]]+${GORELEASER_MODULE}[[:space:]]+${GORELEASER_VERSION}([[:space:]]|$)" >/dev/null; then
		echo "  installing $GORELEASER_MODULE@$GORELEASER_VERSION into $GOBIN_DIR (a large build; done once)"
		mkdir -p "$GOBIN_DIR"
		GOBIN=$GOBIN_DIR go install "$GORELEASER_MODULE@$GORELEASER_VERSION"
	fi
fi
ok "goreleaser: $GORELEASER ($(go version -m "$GORELEASER" | awk '$1 == "mod" {print $3}'))"

# --- build -------------------------------------------------------------------

step "goreleaser check"
"$GORELEASER" check

step "goreleaser release --snapshot --clean"
# GoReleaser reads the commit and its date only when the checkout has a remote;
# without one a snapshot is stamped "none" and dated year 1. Lend a clone
# without a remote the project's URL for this run only (git config is untouched).
if [ -z "$(git ls-remote --get-url 2>/dev/null || true)" ] || [ "$(git ls-remote --get-url 2>/dev/null)" = origin ]; then
	export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url GIT_CONFIG_VALUE_0=https://github.com/immich-accel/immich-accel.git
fi
"$GORELEASER" release --snapshot --clean

# --- artifacts ---------------------------------------------------------------

step "artifacts"
version=$(sed -n 's/.*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$DIST/metadata.json" | head -n1)
commit=$(sed -n 's/.*"commit":[[:space:]]*"\([^"]*\)".*/\1/p' "$DIST/metadata.json" | head -n1)
[ -n "$version" ] || fail "no version in $DIST/metadata.json"
[[ $commit =~ ^[0-9a-f]{40}$ ]] || fail "snapshot is not stamped with a commit (metadata.json says \"$commit\")"
ok "version $version, commit $commit"

want_file() {
	local pattern=$1 matches
	matches=$(compgen -G "$DIST/$pattern" || true)
	[ -n "$matches" ] || fail "missing $pattern in $DIST"
	[ "$(wc -l <<<"$matches")" -eq 1 ] || fail "more than one $pattern in $DIST: $matches"
	echo "$matches"
}
declare -A archive deb rpm
archive[amd64]=$(want_file "immich-accel_${version}_linux_amd64.tar.gz")
archive[arm64]=$(want_file "immich-accel_${version}_linux_arm64.tar.gz")
deb[amd64]=$(want_file "immich-accel_*_amd64.deb")
deb[arm64]=$(want_file "immich-accel_*_arm64.deb")
rpm[amd64]=$(want_file "immich-accel-*.x86_64.rpm")
rpm[arm64]=$(want_file "immich-accel-*.aarch64.rpm")
sums=$(want_file checksums.txt)
for f in "${archive[@]}" "${deb[@]}" "${rpm[@]}"; do
	ok "$(basename "$f") ($(du -h "$f" | cut -f1))"
	grep -q "  $(basename "$f")\$" "$sums" || fail "$(basename "$f") is not listed in checksums.txt"
done
(cd "$DIST" && sha256sum --quiet --check checksums.txt) || fail "checksums.txt does not match the files"
ok "checksums.txt: $(wc -l <"$sums") entries, all match"

# --- contents ----------------------------------------------------------------

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

want_paths() {
	local what=$1 listing=$2
	shift 2
	for p in "$@"; do
		grep -qx -- "$p" <<<"$listing" || fail "$what lacks $p; it holds:
$listing"
	done
}

readonly -a deb_paths=(
	./usr/bin/immich-accel
	./usr/share/bash-completion/completions/immich-accel
	./usr/share/zsh/vendor-completions/_immich-accel
	./usr/share/fish/vendor_completions.d/immich-accel.fish
	./usr/share/man/man1/immich-accel.1.gz
	./usr/share/doc/immich-accel/copyright
)
readonly -a rpm_paths=(
	/usr/bin/immich-accel
	/usr/share/bash-completion/completions/immich-accel
	/usr/share/zsh/site-functions/_immich-accel
	/usr/share/fish/vendor_completions.d/immich-accel.fish
	/usr/share/man/man1/immich-accel.1.gz
	/usr/share/licenses/immich-accel/LICENSE
)

for arch in amd64 arm64; do
	step "linux/$arch contents"
	case $arch in
	amd64) machine="Advanced Micro Devices X86-64" interp=/lib64/ld-linux-x86-64.so.2 rpmarch=x86_64 ;;
	arm64) machine="AArch64" interp=/lib/ld-linux-aarch64.so.1 rpmarch=aarch64 ;;
	esac

	listing=$(tar -tzf "${archive[$arch]}" | sed 's|/$||') || fail "cannot list $(basename "${archive[$arch]}")"
	want_paths "$(basename "${archive[$arch]}")" "$listing" \
		immich-accel README.md LICENSE \
		completions/immich-accel.bash completions/_immich-accel completions/immich-accel.fish \
		man/man1/immich-accel.1.gz
	ok "archive: binary, README.md, LICENSE, 3 completions, $(grep -c '^man/man1/.*\.1\.gz$' <<<"$listing") man pages"

	[ "$(dpkg-deb -f "${deb[$arch]}" Architecture)" = "$arch" ] || fail "$(basename "${deb[$arch]}") is not Architecture: $arch"
	listing=$(dpkg-deb -c "${deb[$arch]}" | awk '{print $NF}' | sed 's|/$||') || fail "cannot list $(basename "${deb[$arch]}")"
	want_paths "$(basename "${deb[$arch]}")" "$listing" "${deb_paths[@]}"
	ok "deb: $(dpkg-deb -f "${deb[$arch]}" Package) $(dpkg-deb -f "${deb[$arch]}" Version), files in place"

	[ "$(rpm -qp --qf '%{ARCH}' "${rpm[$arch]}")" = "$rpmarch" ] || fail "$(basename "${rpm[$arch]}") is not for $rpmarch"
	listing=$(rpm -qlp "${rpm[$arch]}") || fail "rpm cannot read $(basename "${rpm[$arch]}")"
	want_paths "$(basename "${rpm[$arch]}")" "$listing" "${rpm_paths[@]}"
	ok "rpm: $(rpm -qp --qf '%{NAME} %{VERSION}-%{RELEASE} %{ARCH}' "${rpm[$arch]}"), files in place"

	# The binary under test comes out of the archive, as a user would get it.
	dir=$tmp/$arch
	mkdir -p "$dir"
	tar -xzf "${archive[$arch]}" -C "$dir"
	bin=$dir/immich-accel
	gzip -dc "$dir/man/man1/immich-accel.1.gz" | grep '^\.TH "IMMICH-ACCEL" "1"' >/dev/null || fail "man/man1/immich-accel.1.gz is not a man page"

	step "linux/$arch binary"
	readelf -h "$bin" | grep "Machine:[[:space:]]*$machine" >/dev/null || fail "$arch binary is not built for $machine"
	go version -m "$bin" | grep 'CGO_ENABLED=1' >/dev/null || fail "$arch binary was not built with CGO_ENABLED=1"
	ok "ELF $machine, built with CGO_ENABLED=1"

	needed=$(readelf -dW "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
	if [ -z "$needed" ]; then
		ok "statically linked: no shared libraries needed (no package in this build uses cgo yet)"
	else
		bad=$(grep -Ev '^(libc|libm|libdl|libpthread)\.so\.[0-9]+$|^ld-linux-(x86-64|aarch64)\.so\.[0-9]+$' <<<"$needed" || true)
		[ -z "$bad" ] || fail "$arch binary needs non-glibc libraries at start: $bad (NVML and ONNX Runtime must be opened with dlopen at run time)"
		got_interp=$(readelf -lW "$bin" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
		[ "$got_interp" = "$interp" ] || fail "$arch binary asks for interpreter $got_interp, want $interp"
		glibc=$(readelf -VW "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n1)
		ok "needs only glibc: $(tr '\n' ' ' <<<"$needed")(symbols up to GLIBC_$glibc)"
		# The packages must not promise to run on an older glibc than that.
		deb_floor=$(dpkg-deb -f "${deb[$arch]}" Depends | sed -n 's/.*libc6 (>= \([0-9.]*\)).*/\1/p')
		rpm_floor=$(rpm -qpR "${rpm[$arch]}" | sed -n 's/^glibc >= \([0-9.]*\)$/\1/p')
		for floor in "deb:$deb_floor" "rpm:$rpm_floor"; do
			v=${floor#*:}
			[ -n "$v" ] || fail "the ${floor%%:*} package does not depend on a minimum glibc version"
			[ "$(printf '%s\n%s\n' "$glibc" "$v" | sort -V | tail -n1)" = "$v" ] ||
				fail "the ${floor%%:*} package asks for glibc >= $v but the binary needs GLIBC_$glibc; raise it in .goreleaser.yaml"
		done
		ok "packages require glibc >= $deb_floor (deb) and >= $rpm_floor (rpm)"
	fi

	case $arch in
	amd64)
		run=("$bin")
		if [ -n "$needed" ]; then
			ldd "$bin" | sed 's/^/    ldd: /'
			! ldd "$bin" | grep 'not found' || fail "amd64 binary has unresolved libraries"
		fi
		;;
	arm64)
		run=(qemu-aarch64 -L /usr/aarch64-linux-gnu "$bin")
		if [ -n "$needed" ]; then
			qemu-aarch64 -L /usr/aarch64-linux-gnu /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 --list "$bin" | sed 's/^/    ld.so --list: /'
		fi
		;;
	esac

	out=$("${run[@]}" --version) || fail "$arch: immich-accel --version failed"
	echo "    \$ immich-accel --version"
	echo "    $out"
	grep -q "^immich-accel $version (${commit:0:12}" <<<"$out" || fail "$arch: --version does not show the stamped version $version and commit ${commit:0:12}"
	grep -q "linux/$arch\$" <<<"$out" || fail "$arch: --version does not say linux/$arch"
	ok "--version shows the stamped version"
	"${run[@]}" --help >/dev/null || fail "$arch: immich-accel --help failed"
	ok "--help runs"

	# `help doctor` succeeds even for unknown topics; `doctor --help` does not.
	if "${run[@]}" doctor --help >/dev/null 2>&1; then
		echo "    \$ immich-accel doctor"
		set +e
		"${run[@]}" doctor 2>&1 | sed 's/^/    /'
		rc=${PIPESTATUS[0]}
		set -e
		case $rc in
		0) ok "doctor: a hardware backend is ready (exit 0)" ;;
		3) ok "doctor: CPU only on this host (exit 3)" ;;
		*) fail "$arch: immich-accel doctor exited $rc" ;;
		esac
	else
		echo "  skip: doctor is not a command in this build"
	fi
done

step "reproducibility"
# A second build of the same commit must give the same bytes.
cp "$sums" "$tmp/checksums.first"
"$GORELEASER" release --snapshot --clean >"$tmp/second-build.log" 2>&1 || {
	cat "$tmp/second-build.log" >&2
	fail "second snapshot build failed"
}
diff -u "$tmp/checksums.first" "$sums" || fail "a second build of the same commit gave different files (see the checksums above)"
ok "second build: identical archives and packages"

step "release-check passed in ${SECONDS}s"
