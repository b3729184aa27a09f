//go:build !linux

package mse

// Elsewhere the benchmarks report no CPU time.
func threadCPU() int64  { return 0 }
func processCPU() int64 { return 0 }
