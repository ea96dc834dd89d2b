//go:build race

package harness

// raceEnabled reports whether this test binary was built with -race; the
// agent binary is then built with -race too.
const raceEnabled = true
