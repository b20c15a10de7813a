#!/usr/bin/env bash
# Run irctest (github progval/irctest) against the chatroom server.
#
#   tests/irctest/run.sh IRCTEST_CHECKOUT rfc|ircv3|non-ircv3|all|services [pytest args...]
#
# The server binary is $CHATROOM_BIN (default: `chatroom` on PATH).
# Python: $IRCTEST_PYTHON (default: python3), with irctest's requirements and
# pytest-timeout installed (see README.md).  Runs one test at a time, each
# with a 60 s timeout ($IRCTEST_TIMEOUT).  Extra arguments go to pytest,
# e.g. `-k testNames` or `--junitxml=out.xml`.
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 IRCTEST_CHECKOUT rfc|ircv3|non-ircv3|all|services [pytest args...]" >&2
    exit 2
fi
irctest=$(cd "$1" && pwd)
subset=$2
shift 2

here=$(cd "$(dirname "$0")" && pwd)
python=${IRCTEST_PYTHON:-python3}
timeout=${IRCTEST_TIMEOUT:-60}

# Cases marked deprecated, strict, services or implementation-specific (Ergo,
# Sable) are left out, as in irctest's Makefile for InspIRCd and ngIRCd.
#   rfc        the cases marked RFC1459 or RFC2812 (the project's "RFC 1459/2812")
#   ircv3      the cases marked IRCv3 (every capability test carries it)
#   non-ircv3  everything not IRCv3: rfc plus the cases marked only modern,
#              ircdocs, or nothing (e.g. the WebSocket transport tests)
#   all        both
#   services   the cases marked services (accounts, SASL, chathistory of
#              direct messages): our accounts are built in, as Ergo's are,
#              so the controller serves them without a services process
common="not implementation-specific and not deprecated and not strict and not services"
case "$subset" in
    rfc) markers="(RFC1459 or RFC2812) and not IRCv3 and $common" ;;
    ircv3) markers="IRCv3 and $common" ;;
    non-ircv3) markers="not IRCv3 and $common" ;;
    all) markers="$common" ;;
    services) markers="services and not implementation-specific and not deprecated and not strict" ;;
    *) echo "subset must be rfc, ircv3, non-ircv3, all or services" >&2; exit 2 ;;
esac

bin=${CHATROOM_BIN:-chatroom}
if ! command -v "$bin" >/dev/null 2>&1; then
    echo "server binary '$bin' not found: set CHATROOM_BIN" >&2
    exit 2
fi

cd "$irctest"
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
exec "$python" -m pytest \
    --controller chatroom_controller \
    -m "$markers" \
    -p no:cacheprovider \
    --timeout "$timeout" \
    -rfEs \
    "$@"
