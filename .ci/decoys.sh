# Sourced by .ci/run (and usable by hand: `source .ci/decoys.sh; start_decoys; …; stop_decoys`).
#
# Processes that look like running coding agents to anything reading the whole
# process table, kept alive around pytest: a test that sees more than the
# processes it started itself fails here, as it would on the machine of anyone
# who runs claude or codex. Plus one that merely installs an agent and must
# not be taken for one. Killed by pid on exit; nothing outside a temp dir.

start_decoys() {
    DECOY_DIR=$(mktemp -d "${TMPDIR:-/tmp}/agentsession-decoys.XXXXXX")
    DECOY_PIDS=()
    trap stop_decoys EXIT
    (exec -a claude sleep 3600) &
    DECOY_PIDS+=("$!")
    (exec -a codex sleep 3600) &
    DECOY_PIDS+=("$!")
    # Gemini runs as `node …/node_modules/@google/gemini-cli/dist/index.js`.
    local gemini="$DECOY_DIR/node_modules/@google/gemini-cli/dist/index.js"
    mkdir -p "$(dirname "$gemini")"
    if command -v node >/dev/null 2>&1; then
        printf 'setTimeout(() => {}, 3600 * 1000);\n' >"$gemini"
        node "$gemini" &
    else  # the same shape with another interpreter
        printf 'import time\ntime.sleep(3600)\n' >"$gemini"
        "${PY:-python3}" "$gemini" &
    fi
    DECOY_PIDS+=("$!")
    (exec -a "npm install -g @anthropic-ai/claude-code@latest" sleep 3600) &
    DECOY_PIDS+=("$!")
}

# Fails unless the decoys are seen as claude, codex, gemini and (the installer) nothing.
check_decoys() {
    "$1" - "${DECOY_PIDS[@]}" <<'PY'
import sys, time
from agent_session.process import label_process, snapshot_processes

pids = [int(p) for p in sys.argv[1:]]
for _ in range(100):  # until node has started (a failure bound, not a wait)
    procs = snapshot_processes(only_trees_of=pids).by_pid()
    got = [label_process(procs[p].name, procs[p].exe, procs[p].cmdline) if p in procs else "gone" for p in pids]
    got = [a.value if a is not None and a != "gone" else a for a in got]
    if got == ["claude", "codex", "gemini", None]:
        print("decoys running:", dict(zip(pids, got)))
        break
    time.sleep(0.05)
else:
    sys.exit(f"decoys not recognised as expected: {dict(zip(pids, got))}")
PY
}

stop_decoys() {
    if [ "${#DECOY_PIDS[@]}" -gt 0 ]; then
        kill "${DECOY_PIDS[@]}" 2>/dev/null || true
        wait "${DECOY_PIDS[@]}" 2>/dev/null || true
    fi
    DECOY_PIDS=()
    rm -rf "${DECOY_DIR:-}"
}
