//go:build race

package app_test

// raceDetector reports whether the tests run with -race, which makes every
// memory access several times slower: latency bounds meant for the real
// binary are checked in the run without it (.ci/run runs the abuse test so).
const raceDetector = true
