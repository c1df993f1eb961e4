#!/usr/bin/env bash
# Make sure a `prometheus` binary exists for tests/test_serve_prometheus.py (the
# real-server test skips without one). Debian/Ubuntu package `prometheus`; it
# also brings `promtool`, which checks examples/prometheus.yml.
#
# Source it and call ensure_prometheus, or run it directly. The package's own
# service is not needed: the test starts the binary itself on a free loopback
# port with its own config and storage (on Debian, policy-rc.d in containers
# keeps the service from starting anyway).
ensure_prometheus() {
    if command -v prometheus >/dev/null 2>&1; then
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "prometheus.sh: no prometheus and no apt-get: the real-Prometheus test will skip" >&2
        return 0
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo="sudo -n"
        else
            echo "prometheus.sh: not root and no sudo: the real-Prometheus test will skip" >&2
            return 0
        fi
    fi
    echo "== installing prometheus (apt-get)"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    command -v prometheus >/dev/null 2>&1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    ensure_prometheus
fi
