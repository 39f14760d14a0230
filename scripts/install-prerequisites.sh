#!/usr/bin/env bash
# Install the Python tools the CI checks run, from Debian/Ubuntu packages.
# Go tools need no step: the checks build the pinned versions on first use
# into .cache/tools. pip is not used: on these machines it has no package
# index, and PEP 668 protects the system interpreter.
#
# Usage: scripts/install-prerequisites.sh        (as root, or with sudo)
set -euo pipefail

packages=(
  bandit black isort flake8 pylint mypy
  python3-pytest python3-pytest-cov python3-pytest-xdist python3-pytest-timeout
)

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
  else
    echo "error: run as root, or install: apt-get install -y ${packages[*]}" >&2
    exit 1
  fi
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "Python tools already installed"
  exit 0
fi

echo "installing: ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
