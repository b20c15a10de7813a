#!/usr/bin/env bash
# Installs the system packages the test suite needs, when missing.
# Uses apt-get (Debian/Ubuntu); elsewhere it only reports what is missing.
set -euo pipefail

# command -> Debian package
declare -A needed=(
  [python3]=python3                    # runs the tutorial's own Python client against the server
  [weechat-headless]=weechat-headless  # a real IRC client for the IRC end-to-end test
  [tmux]=tmux                          # drives the full-screen client in the end-to-end test
  [openssl]=openssl                    # the TLS client of the TLS end-to-end tests
  [chromium]=chromium                  # the browser of the web client's tests
  [chromedriver]=chromium-driver       # drives it over WebDriver
  [redis-server]=redis-server          # the broker of the cluster tests (a real Redis on loopback)
)


missing=()
for cmd in "${!needed[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${needed[$cmd]}")
done
# Chinese in the browser tests' screenshots, instead of boxes.
[ -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || missing+=(fonts-noto-cjk)
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing packages (install them yourself): ${missing[*]}" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}" >&2
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
