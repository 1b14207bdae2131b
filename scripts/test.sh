#!/bin/bash
# The test command (README and CI call it): installs the real servers the integration tests
# run (Prosody, slixmpp, …) from Debian's packages, then runs every test of the workspace in
# the debug profile. Extra arguments go to `cargo test`, e.g. `scripts/test.sh --test e2e_core`.
# SWITCHBOARD_KEEP_TEST_DIRS=1 keeps each test's working directory (logs, configs, data).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo test --workspace "$@"
