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

// checkAlias panics when out overlaps the input in (kernels.CheckAlias).
func checkAlias(op, name string, out, in kernels.Tensor, allowSame bool) {
	if err := kernels.CheckAlias(out, in, name, allowSame); err != nil {
		panic("cuda: " + op + ": " + err.Error())
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
	if err := p.CheckRoPE(x, pos); err != nil {
		shapePanic(op, "%v", err)
	}
}

// checkAttention panics unless out, q, the cache and the batch agree.
func checkAttention(op string, out, q kernels.Tensor, c *kernels.KVCache, ab *kernels.AttnBatch) {
	if err := ab.CheckAttention(out, q, c); err != nil {
		shapePanic(op, "%v", err)
	}
	if ab.HeadDim > maxHeadDim {
		shapePanic(op, "head dim %d exceeds the kernel's %d", ab.HeadDim, maxHeadDim)
	}
}
