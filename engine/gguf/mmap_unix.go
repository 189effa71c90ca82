//go:build unix

package gguf

import (
	"fmt"
	"os"
	"syscall"
)

// mapFile maps path read-only. Mapping (rather than reading) keeps start-up
// cheap for multi-GB models: pages are faulted in as tensors are uploaded.
func mapFile(path string) ([]byte, func() error, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer fd.Close() // the mapping outlives the descriptor
	st, err := fd.Stat()
	if err != nil {
		return nil, nil, err
	}
	size := st.Size()
	switch {
	case !st.Mode().IsRegular():
		return nil, nil, fmt.Errorf("%s is not a regular file", path)
	case size == 0:
		return nil, nil, fmt.Errorf("%s is empty", path)
	case size != int64(int(size)):
		return nil, nil, fmt.Errorf("%s: size %d does not fit this platform's address space", path, size)
	}
	data, err := syscall.Mmap(int(fd.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	return data, func() error { return syscall.Munmap(data) }, nil
}
