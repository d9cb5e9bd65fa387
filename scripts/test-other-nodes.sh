#!/usr/bin/env bash
# Runs the unit and end-to-end tests again on Node 22 and 24, from the npm registry's `node` package, after
# `npm test` ran everything on the machine's Node (and built dist/). The two versions run side by side: the tests
# wait on sockets, timers and child processes far more than they compute, and every server they start takes a
# random port of its own.
#
# The longest Redis suites (the fleet outbox's, the fleet permits' and the fleet of groups' crash and soak runs, a
# minute, half a minute and half a minute) run on one of the two versions each, not on both: they test the protocol with Redis and BullMQ, which does not
# change between Node versions, and Node 20 runs them all. Every other test runs on both.
set -uo pipefail
cd "$(dirname "$0")/.."

run_on() {
  local version="$1"
  shift
  local skip=()
  for file in "$@"; do skip+=(--exclude "$file"); done
  local bin
  bin="$(dirname "$(npx -y -p "node@$version" which node)")"
  {
    echo "== Node $("$bin/node" -v)"
    PATH="$bin:$PATH" node node_modules/vitest/vitest.mjs run "${skip[@]}" --reporter=dot \
      --reporter=json --outputFile.json=".tmp/vitest-node$version.json" &&
      PATH="$bin:$PATH" node node_modules/vitest/vitest.mjs run --config vitest.e2e.config.ts --reporter=dot \
        --reporter=json --outputFile.json=".tmp/vitest-e2e-node$version.json"
  } >".tmp/node$version.log" 2>&1
}

mkdir -p .tmp
status=0
run_on 22 test/fleet-permits.test.ts test/tenants-fleet-lifecycle.test.ts & pid22=$!
run_on 24 test/fleet-outbox.test.ts & pid24=$!
wait "$pid22" || status=1
wait "$pid24" || status=1
for version in 22 24; do
  tail -n 12 ".tmp/node$version.log"
  node scripts/test-summary.mjs ".tmp/vitest-node$version.json" ".tmp/vitest-e2e-node$version.json" |
    sed "s/^/Node $version: /"
done
exit "$status"
