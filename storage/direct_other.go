//go:build !linux

package storage

const directFlag = 0

func alignedForDirect([][]byte, int64) bool { return false }

func isDirectRefused(error) bool { return true }
