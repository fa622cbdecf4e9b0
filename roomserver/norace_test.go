//go:build !race

package roomserver

const raceEnabled = false
