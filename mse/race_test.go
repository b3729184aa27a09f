//go:build race

package mse

const raceEnabled = true
