//go:build cgo && !linux

package cpu

import "unsafe"

// releaseHost is a no-op where MADV_PAGEOUT does not exist: the host pages
// of packed weights stay resident until the OS reclaims them.
func releaseHost(unsafe.Pointer, int) {}
