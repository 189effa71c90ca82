//go:build cgo && linux

package cpu

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// releaseHost asks the kernel to reclaim the whole pages of n bytes at p
// now that MatMul reads a packed twin instead (MADV_PAGEOUT). It never
// loses data: pages of a mapped GGUF file are clean and fault back in from
// the file if Embed or Download reads them again, and anonymous memory is
// swapped out or left alone. Errors (an old kernel) only mean the pages
// stay resident, so they are ignored.
func releaseHost(p unsafe.Pointer, n int) {
	page := uintptr(unix.Getpagesize())
	start := uintptr(p)
	lo := (start + page - 1) &^ (page - 1)
	hi := (start + uintptr(n)) &^ (page - 1)
	if hi <= lo {
		return
	}
	_ = unix.Madvise(unsafe.Slice((*byte)(unsafe.Add(p, lo-start)), hi-lo), unix.MADV_PAGEOUT)
}
