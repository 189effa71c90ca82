//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package safetensors

import (
	"fmt"
	"os"
	"syscall"
)

// mapFile maps size bytes of f read-only and shared, so many processes
// serving the same weights share one copy in the page cache.
func mapFile(f *os.File, size int64) ([]byte, func() error, error) {
	if int64(int(size)) != size {
		return nil, nil, fmt.Errorf("%d bytes do not fit the address space", size)
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return b, func() error { return syscall.Munmap(b) }, nil
}
