#!/usr/bin/env bash
# Installs nvcc (CUDA 11.8, Debian 12's nvidia-cuda-toolkit from the
# non-free component) and cmake, so that `make cuda` can compile the CUDA
# kernels on a machine without a GPU. Does nothing when nvcc and cmake are
# already on PATH (or in /usr/local/cuda/bin).
#
# The non-free component is added as /etc/apt/sources.list.d/non-free.sources
# with the same URIs and Signed-By keyring as the stanza of
# /etc/apt/sources.list.d/debian.sources that carries bookworm (falling back
# to Debian's defaults when that file is missing).
set -euo pipefail

have_nvcc() {
	command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]
}
if have_nvcc && command -v cmake >/dev/null 2>&1; then
	exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
src=/etc/apt/sources.list.d/debian.sources
dst=/etc/apt/sources.list.d/non-free.sources

# stanza_field FIELD prints FIELD of the first deb822 stanza of $src whose
# Suites list holds the bare "bookworm" suite.
stanza_field() {
	awk -v want="$1" '
		BEGIN { RS = ""; FS = "\n" }
		{
			suites = ""; val = ""
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^Suites:/) suites = " " substr($i, 8) " "
				if (index($i, want ":") == 1) val = substr($i, length(want) + 2)
			}
			if (suites ~ / bookworm /) { gsub(/^[ \t]+|[ \t]+$/, "", val); print val; exit }
		}' "$src" 2>/dev/null || true
}

if [ ! -f "$dst" ]; then
	uris=$(stanza_field URIs)
	keyring=$(stanza_field Signed-By)
	uris=${uris:-http://deb.debian.org/debian}
	keyring=${keyring:-/usr/share/keyrings/debian-archive-keyring.gpg}
	echo "install-nvcc: adding $dst (contrib non-free from $uris)" >&2
	$sudo tee "$dst" >/dev/null <<EOF
Types: deb
URIs: $uris
Suites: bookworm bookworm-updates
Components: contrib non-free
Signed-By: $keyring
EOF
fi

echo "install-nvcc: installing nvidia-cuda-toolkit and cmake" >&2
$sudo apt-get update -qq
# No recommends: they pull the driver's kernel module (DKMS), the docs and
# Nsight, none of which compiling needs.
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
	nvidia-cuda-toolkit cmake
have_nvcc || { echo "install-nvcc: nvcc still missing after install" >&2; exit 1; }
nvcc --version | tail -n 2 >&2
