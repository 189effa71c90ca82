//go:build cgo

package cuda

import (
	"fmt"
	"slices"

	"spillway/kernels"
)

// weightTypes are the types MatMul and Embed read: every type of
// kernels/dtype.go except the activation-only Q8_1 and Q8_K.
var weightTypes = []kernels.DType{
	kernels.F32, kernels.F16, kernels.BF16,
	kernels.Q4_0, kernels.Q4_1, kernels.Q5_0, kernels.Q5_1, kernels.Q8_0,
	kernels.Q2_K, kernels.Q3_K, kernels.Q4_K, kernels.Q5_K, kernels.Q6_K,
}

// shapePanic panics with a message naming the op and the shapes.
func shapePanic(op, format string, args ...any) {
	panic(fmt.Sprintf("cuda: %s: shape mismatch: %s", op, fmt.Sprintf(format, args...)))
}

// ptr returns the device address of t's first byte, panicking when t is
// not a live tensor of this backend (a programming error).
func (b *Backend) ptr(op, name string, t kernels.Tensor) uint64 {
	_, p, err := b.resolve(t)
	if err != nil {
		panic(fmt.Sprintf("cuda: %s: %s: %v", op, name, err))
	}
	return p
}

// float panics unless t holds F32, F16 or BF16 values, which is what the
// element-wise kernels read and write.
func float(op, name string, t kernels.Tensor) {
	if !isFloat(t.DType) {
		shapePanic(op, "%s %v must be F32, F16 or BF16", name, t)
	}
}

// weight panics unless t is of a type MatMul and Embed decode.
func weight(op, name string, t kernels.Tensor) {
	if !slices.Contains(weightTypes, t.DType) {
		shapePanic(op, "%s %v: unsupported weight type", name, t)
	}
}

// checkAlias panics when out overlaps input in, unless they are the very
// same view and the op allows that (allowSame).
func checkAlias(op, name string, out, in kernels.Tensor, allowSame bool) {
	if out.Buf != in.Buf {
		return
	}
	same := out.Off == in.Off && out.DType == in.DType && out.Rows == in.Rows && out.Cols == in.Cols
	if same && allowSame {
		return
	}
	if out.Off < in.Off+in.Bytes() && in.Off < out.Off+out.Bytes() {
		panic(fmt.Sprintf("cuda: %s: out %v at byte %d overlaps %s %v at byte %d", op, out, out.Off, name, in, in.Off))
	}
}

// written records that an op wrote t's buffer, so that cached derivations
// of its contents (the 8-bit activations of MatMul) go stale.
func written(t kernels.Tensor) {
	if d, ok := t.Buf.(*devBuf); ok {
		d.gen++
	}
}

// cacheLayer returns layer's K and V tensors, panicking when they do not
// exist or disagree with the spec.
func cacheLayer(op string, c *kernels.KVCache, layer int) (k, v kernels.Tensor) {
	if c == nil || layer < 0 || layer >= len(c.K) || layer >= len(c.V) {
		panic(fmt.Sprintf("cuda: %s: layer %d outside the KV cache", op, layer))
	}
	k, v = c.K[layer], c.V[layer]
	s := c.Spec
	w := s.NumKVHeads * s.HeadDim
	if k.Rows != s.Slots() || k.Cols != w || v.Rows != s.Slots() || v.Cols != w || k.DType != v.DType {
		shapePanic(op, "cache layer %d has K %v and V %v, spec says (%d, %d)", layer, k, v, s.Slots(), w)
	}
	float(op, "cache", k)
	return k, v
}

// checkRoPE panics unless x, pos and p describe a rotation RoPE can do.
func checkRoPE(op string, x kernels.Tensor, pos []int32, p kernels.RoPEParams) {
	if len(pos) != x.Rows {
		shapePanic(op, "x %v but %d positions", x, len(pos))
	}
	if p.HeadDim <= 0 || x.Cols%p.HeadDim != 0 {
		shapePanic(op, "x %v is not a whole number of heads of %d", x, p.HeadDim)
	}
	if p.NDims <= 0 || p.NDims%2 != 0 || p.NDims > p.HeadDim {
		shapePanic(op, "NDims %d must be even and in (0, HeadDim %d]", p.NDims, p.HeadDim)
	}
	if p.Style != kernels.RoPENorm && p.Style != kernels.RoPENeoX {
		shapePanic(op, "unknown style %d", p.Style)
	}
	if p.FreqFactors != nil && len(p.FreqFactors) != p.NDims/2 {
		shapePanic(op, "%d freq factors for NDims %d (want NDims/2)", len(p.FreqFactors), p.NDims)
	}
}

// checkAttention panics unless out, q, the cache and the batch agree.
func checkAttention(op string, out, q kernels.Tensor, c *kernels.KVCache, ab *kernels.AttnBatch) {
	if ab == nil {
		panic("cuda: " + op + ": nil batch")
	}
	w := ab.NumHeads * ab.HeadDim
	if ab.NumHeads <= 0 || ab.HeadDim <= 0 || q.Cols != w || out.Cols != w || out.Rows != q.Rows {
		shapePanic(op, "out %v, q %v for %d heads of %d", out, q, ab.NumHeads, ab.HeadDim)
	}
	if ab.HeadDim != c.Spec.HeadDim || ab.NumKVHeads != c.Spec.NumKVHeads {
		shapePanic(op, "batch has %d kv heads of %d, cache %d of %d", ab.NumKVHeads, ab.HeadDim, c.Spec.NumKVHeads, c.Spec.HeadDim)
	}
	if ab.HeadDim > maxHeadDim {
		shapePanic(op, "head dim %d exceeds the kernel's %d", ab.HeadDim, maxHeadDim)
	}
	if err := ab.Validate(q.Rows, c); err != nil {
		panic(fmt.Sprintf("cuda: %s: %v", op, err))
	}
}
