package kernels

import "fmt"

// CheckRoPE reports whether x (T, nHeads·HeadDim) and pos describe a
// rotation RoPE can do with p. Backends call it before touching memory
// and panic with the error, since a bad call is a programming error.
func (p RoPEParams) CheckRoPE(x Tensor, pos []int32) error {
	switch {
	case len(pos) != x.Rows:
		return fmt.Errorf("x %v but %d positions", x, len(pos))
	case p.HeadDim <= 0 || x.Cols%p.HeadDim != 0:
		return fmt.Errorf("x %v is not a whole number of heads of %d", x, p.HeadDim)
	case p.NDims <= 0 || p.NDims%2 != 0 || p.NDims > p.HeadDim:
		return fmt.Errorf("NDims %d must be even and in (0, HeadDim %d]", p.NDims, p.HeadDim)
	case p.Style != RoPENorm && p.Style != RoPENeoX:
		return fmt.Errorf("unknown style %d", p.Style)
	case p.FreqFactors != nil && len(p.FreqFactors) != p.NDims/2:
		return fmt.Errorf("%d freq factors for NDims %d (want NDims/2)", len(p.FreqFactors), p.NDims)
	}
	return nil
}

// CheckAttention reports whether out, q (T, NumHeads·HeadDim), the cache
// and the batch agree, including Validate's bounds on the block tables.
func (b *AttnBatch) CheckAttention(out, q Tensor, c *KVCache) error {
	if b == nil {
		return fmt.Errorf("nil batch")
	}
	w := b.NumHeads * b.HeadDim
	if b.NumHeads <= 0 || b.HeadDim <= 0 || q.Cols != w || out.Cols != w || out.Rows != q.Rows {
		return fmt.Errorf("out %v, q %v for %d heads of %d", out, q, b.NumHeads, b.HeadDim)
	}
	if b.HeadDim != c.Spec.HeadDim || b.NumKVHeads != c.Spec.NumKVHeads {
		return fmt.Errorf("batch has %d kv heads of %d, cache %d of %d", b.NumKVHeads, b.HeadDim, c.Spec.NumKVHeads, c.Spec.HeadDim)
	}
	return b.Validate(q.Rows, c)
}

// Float reports whether d is a plain float type (F32, F16, BF16): what
// activations, norms and KV caches may be stored in.
func (d DType) Float() bool { return d == F32 || d == F16 || d == BF16 }

// CheckAlias reports an error when out overlaps the input in (called name), unless they
// are the very same view and the op allows that (allowSame): kernels read
// an element before writing it only within one row.
func CheckAlias(out, in Tensor, name string, allowSame bool) error {
	if out.Buf != in.Buf {
		return nil
	}
	same := out.Off == in.Off && out.DType == in.DType && out.Rows == in.Rows && out.Cols == in.Cols
	if same && allowSame {
		return nil
	}
	if out.Off < in.Off+in.Bytes() && in.Off < out.Off+out.Bytes() {
		return fmt.Errorf("out %v at byte %d overlaps %s %v at byte %d", out, out.Off, name, in, in.Off)
	}
	return nil
}
