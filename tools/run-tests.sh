#!/bin/sh
# Run the Criterion suite. Usage: run-tests.sh TESTS_BIN KILN_BIN BUILD_DIR
set -u
tests=$1; kiln=$2; build=$3
export KILN_TEST_KILN="$kiln" KILN_TEST_BUILD="$build"
"$tests" --jobs 2 ${KILN_TEST_FILTER:+--filter "$KILN_TEST_FILTER"}
