//go:build cgo

package cuda

import "errors"

// devArea is a grow-only device scratch buffer.
type devArea struct {
	ptr  uint64
	size int
}

// scratch holds the per-op temporaries: the 8-bit activations of MatMul
// and the split-K partials of Attention. Ops are stream-ordered, so one
// buffer of each kind serves every op in turn.
type scratch struct {
	q8, attn devArea
	// cnt holds sw_attn's counts of finished key splits (attn_merge),
	// n int32 of them: zeroed once, and put back to zero by the block
	// that merges, so stream-ordered launches share them.
	cnt struct {
		ptr uint64
		n   int
	}
}

// allocCounters allocates and zeroes n split counters.
func (s *scratch) allocCounters(g *gpu, n int) error {
	p, err := g.alloc(4 * n)
	if err != nil {
		return err
	}
	if err := g.memsetAsync(p, 4*n); err != nil {
		g.free(p)
		return err
	}
	s.cnt.ptr, s.cnt.n = p, n
	return nil
}

// get returns a's address after growing it to at least n bytes. A buffer
// that grows is not freed but retired until Close: a captured graph may
// still read it.
func (s *scratch) get(b *Backend, a *devArea, n int) (uint64, error) {
	if n <= a.size {
		return a.ptr, nil
	}
	size := max(n+n/2, 1<<16)
	p, err := b.g.alloc(size)
	if err != nil {
		return 0, err
	}
	if a.ptr != 0 {
		b.retired = append(b.retired, a.ptr)
	}
	a.ptr, a.size = p, size
	return p, nil
}

func (s *scratch) free(g *gpu) error {
	var errs []error
	for _, a := range []*devArea{&s.q8, &s.attn} {
		if a.ptr != 0 {
			errs = append(errs, g.free(a.ptr))
			a.ptr, a.size = 0, 0
		}
	}
	if s.cnt.ptr != 0 {
		errs = append(errs, g.free(s.cnt.ptr))
		s.cnt.ptr, s.cnt.n = 0, 0
	}
	return errors.Join(errs...)
}
