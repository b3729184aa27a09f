//go:build !race

package mse

const raceEnabled = false
