//go:build race

package utp

const raceEnabled = true
