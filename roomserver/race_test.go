//go:build race

package roomserver

// raceEnabled scales the largest tests down under the race detector,
// which slows them tenfold; their full size runs without it.
const raceEnabled = true
