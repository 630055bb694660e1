#!/usr/bin/env bash
# The project's one test command: ./test.sh [extra `dotnet test` arguments]
#
# 1. Installs what the tests need when it is missing (apt-get; as root, or through `sudo -n`):
#    PostgreSQL (the tests start a private server from its binaries), tesseract-ocr and poppler-utils
#    (receipts are read with them), fonts-dejavu-core (the receipt tests draw their receipts in
#    DejaVu Sans) and Chromium (browser tests; skipped when WALLET_SKIP_BROWSER is set).
# 2. Runs `dotnet test Wallet.sln -c Release "$@"`, streaming to the console and to artifacts/test.log.
# 3. Prints as its very last line `N passed, M failed` (`, K skipped` when K > 0), summed over all test
#    assemblies, and exits non-zero when dotnet test failed, M > 0 or N == 0.
#
# Environment: WALLET_SKIP_BROWSER (set: do not install Chromium); WALLET_TEST_HANG_TIMEOUT (default 20m:
# a test host that hangs that long is killed and the run fails; "0" disables).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

export DEBIAN_FRONTEND=noninteractive
export DOTNET_NOLOGO=1
export DOTNET_CLI_TELEMETRY_OPTOUT=1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# Plain console output (never the interactive terminal logger): the summary lines below are parsed.
export MSBUILDTERMINALLOGGER=off

log() { printf 'test.sh: %s\n' "$*" >&2; }

# ---- 1. prerequisites -------------------------------------------------------------------------

as_root=()
can_install=true
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        as_root=(sudo -n --preserve-env=DEBIAN_FRONTEND)
    else
        can_install=false
    fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
    can_install=false
fi

apt_updated=false
apt_install() {
    if [[ $can_install != true ]]; then
        log "cannot install $* (needs apt-get, and root or sudo); continuing without it"
        return 0
    fi
    if [[ $apt_updated != true ]]; then
        log "apt-get update"
        "${as_root[@]}" apt-get -o DPkg::Lock::Timeout=300 update -q </dev/null || log "apt-get update failed"
        apt_updated=true
    fi
    log "apt-get install -y $*"
    if ! "${as_root[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -q "$@" </dev/null; then
        log "installing $* failed; continuing without it"
    fi
}

if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    apt_install postgresql
fi
missing=()
command -v tesseract >/dev/null 2>&1 || missing+=(tesseract-ocr)
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
[[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]] || missing+=(fonts-dejavu-core)
if [[ ${#missing[@]} -gt 0 ]]; then
    apt_install "${missing[@]}"
fi
if [[ ! -x /usr/bin/chromium && -z ${WALLET_SKIP_BROWSER+set} ]]; then
    apt_install chromium
fi

# ---- 2. the tests -----------------------------------------------------------------------------

mkdir -p artifacts
test_log=artifacts/test.log
rm -f artifacts/bank-report.txt

hang_args=()
hang_timeout=${WALLET_TEST_HANG_TIMEOUT:-20m}
if [[ -n $hang_timeout && $hang_timeout != 0 ]]; then
    hang_args=(--blame-hang-timeout "$hang_timeout" --blame-hang-dump-type none)
fi

set +e
dotnet test Wallet.sln -c Release "${hang_args[@]}" "$@" </dev/null 2>&1 | tee "$test_log"
dotnet_status=${PIPESTATUS[0]}
set -e

# ---- 3. totals --------------------------------------------------------------------------------
# One summary line per test assembly, e.g.
#   Passed!  - Failed:     0, Passed:    12, Skipped:     0, Total:    12, Duration: 1 s - X.dll (net10.0)
#   Failed!  - Failed:     1, Passed:    11, Skipped:     0, Total:    12, Duration: 1 s - Y.dll (net10.0)

passed=0
failed=0
skipped=0
assemblies=0
summary='^[[:space:]]*[A-Za-z]+![[:space:]]+-[[:space:]]+Failed:[[:space:]]*([0-9]+),[[:space:]]*Passed:[[:space:]]*([0-9]+),[[:space:]]*Skipped:[[:space:]]*([0-9]+),[[:space:]]*Total:[[:space:]]*([0-9]+)'
while IFS= read -r line; do
    line=${line%$'\r'}
    if [[ $line =~ $summary ]]; then
        failed=$((failed + BASH_REMATCH[1]))
        passed=$((passed + BASH_REMATCH[2]))
        skipped=$((skipped + BASH_REMATCH[3]))
        assemblies=$((assemblies + 1))
    fi
done <"$test_log"

# The bank test's report (tests/Wallet.Tests/Cluster/BankTests.cs), for the record of the run.
if [[ -f artifacts/bank-report.txt ]]; then
    cat artifacts/bank-report.txt
fi

status=0
if [[ $dotnet_status -ne 0 ]]; then
    log "dotnet test exited with $dotnet_status"
    status=1
fi
if [[ $failed -gt 0 || $passed -eq 0 ]]; then
    status=1
fi
log "$assemblies test assemblies; log: $test_log"

if [[ $skipped -gt 0 ]]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
exit "$status"
