#!/usr/bin/env bash
# The MPI tier's environment (tests/nest_mpi; issue 16): NEST 3.10.0 built with MPI from its sdist
# in its own virtual environment, once per machine, cached between runs and rebuilt when it no
# longer runs under `mpirun -np 2`.
#
# The registry's nest-simulator wheel has OpenMP threads but no MPI, so the MPI build comes from the
# sdist against Debian's Open MPI. It takes 12 minutes on an idle 2-core machine, 30 on a busy one;
# the cached check takes a second or two.
#
# The venv holds NEST, numpy, mpi4py and the build tools only, not snnc: the program that
# `snnc compile --emit nest` writes is standalone PyNEST (numpy + nest), so the MPI tests compile it
# with the project's own Python and run it with this venv's Python under mpirun.
#
# Usage: bash .ci/nest_mpi.sh          prints the venv's Python as its last line
# Environment: XDG_CACHE_HOME (the cache root), SNNC_NEST_MPI_BASE_PYTHON (the Python the venv is
# made from; python3 by default).
set -euo pipefail

NEST_VERSION=3.10.0
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/snnc"
VENV="$CACHE/nest-$NEST_VERSION-mpi"
LOG="$CACHE/nest-$NEST_VERSION-mpi.build.log"
DOWNLOADS="$CACHE/downloads"
BASE_PYTHON="${SNNC_NEST_MPI_BASE_PYTHON:-python3}"
SYSTEM_PACKAGES=(cmake g++ libgsl-dev libltdl-dev libopenmpi-dev openmpi-bin libboost-dev)

say() { echo "nest_mpi: $*" >&2; }
die() { echo "nest_mpi: error: $*" >&2; exit 1; }

# Open MPI refuses to start as root unless told to (CI runs as root).
if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

# The cache check and the final verification: NEST, started by mpirun on 2 ranks (oversubscribed,
# since the machine may have 2 cores shared with other work), must see 2 MPI processes.
verify() {
    [ -x "$VENV/bin/python" ] || return 1
    command -v mpirun >/dev/null || return 1
    timeout 300 mpirun -np 2 --oversubscribe "$VENV/bin/python" -c '
import nest
nest.verbosity = nest.VerbosityLevel.ERROR
n = nest.NumProcesses()
assert n == 2, f"NEST sees {n} MPI processes, not 2"
print(f"rank {nest.Rank()} of {n}: NEST {nest.__version__} with MPI")
' >"$CACHE/nest-mpi-verify.log" 2>&1
}

mkdir -p "$CACHE" "$DOWNLOADS"
if verify; then
    say "cached NEST $NEST_VERSION with MPI works: $VENV"
    echo "$VENV/bin/python"
    exit 0
fi
say "no working NEST $NEST_VERSION with MPI in $VENV: building it (log: $LOG)"

# 1. System packages: the compiler, CMake, GSL, ltdl, Boost and Open MPI (library and mpirun).
missing=()
for package in "${SYSTEM_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        die "missing system packages: ${missing[*]}; install them (as root: apt-get install ${missing[*]}) and run again"
    fi
    say "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >>"$LOG" 2>&1 || die "apt-get update failed (see $LOG)"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$LOG" 2>&1 \
        || die "apt-get could not install ${missing[*]} (see $LOG)"
fi
command -v mpirun >/dev/null || die "mpirun not found after installing openmpi-bin"

# 2. The venv with NEST's build and run requirements.
say "creating the venv with $BASE_PYTHON"
rm -rf "$VENV"
"$BASE_PYTHON" -m venv "$VENV" || die "$BASE_PYTHON could not create a venv"
"$VENV/bin/python" -m pip install --quiet --upgrade pip >>"$LOG" 2>&1
say "installing numpy<2 cython scikit-build-core mpi4py"
"$VENV/bin/pip" install --quiet "numpy<2" cython scikit-build-core mpi4py >>"$LOG" 2>&1 \
    || die "pip could not install NEST's build requirements (see $LOG)"

# 3. The sdist, kept beside the venv so that a rebuild does not download it again.
SDIST="$DOWNLOADS/nest_simulator-$NEST_VERSION.tar.gz"
if [ ! -f "$SDIST" ]; then
    say "downloading the nest-simulator $NEST_VERSION sdist"
    "$VENV/bin/pip" download --quiet --no-deps --no-binary :all: --no-build-isolation \
        -d "$DOWNLOADS" "nest-simulator==$NEST_VERSION" >>"$LOG" 2>&1 \
        || die "pip could not download the nest-simulator $NEST_VERSION sdist (see $LOG)"
fi
[ -f "$SDIST" ] || die "pip did not leave $SDIST"

# 4. The build, niced: the machine is shared.
say "building NEST $NEST_VERSION with MPI (12 to 30 minutes on 2 cores)"
start=$(date +%s)
CMAKE_BUILD_PARALLEL_LEVEL=2 nice -n 10 "$VENV/bin/pip" install -v --no-build-isolation \
    "$SDIST" -C cmake.define.with-mpi=ON >>"$LOG" 2>&1 \
    || die "the NEST build failed (see the end of $LOG)"
say "built in $(( $(date +%s) - start )) s"

# 5. The verification the cache check repeats.
if ! verify; then
    cat "$CACHE/nest-mpi-verify.log" >&2
    die "NEST $NEST_VERSION built but does not see 2 MPI processes under mpirun -np 2"
fi
say "NEST $NEST_VERSION with MPI works: $VENV"
echo "$VENV/bin/python"
