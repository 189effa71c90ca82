//go:build cgo

package cpu

import (
	"fmt"
	"unsafe"

	"spillway/kernels"
)

// weightTypes are the types MatMul accepts for w.
var weightTypes = map[kernels.DType]bool{
	kernels.F32: true, kernels.F16: true, kernels.BF16: true,
	kernels.Q4_0: true, kernels.Q4_1: true, kernels.Q5_0: true, kernels.Q5_1: true, kernels.Q8_0: true,
	kernels.Q2_K: true, kernels.Q3_K: true, kernels.Q4_K: true, kernels.Q5_K: true, kernels.Q6_K: true,
}

// isFloat: see kernels.DType.Float.
func isFloat(dt kernels.DType) bool { return dt.Float() }

// checkView returns t's buffer when t is a live cpu tensor whose view lies
// inside it.
func checkView(t kernels.Tensor) (*buffer, error) {
	buf, ok := t.Buf.(*buffer)
	if !ok || buf == nil {
		return nil, fmt.Errorf("tensor %v is not a cpu tensor (buffer %T)", t, t.Buf)
	}
	if buf.freed {
		return nil, fmt.Errorf("tensor %v was freed by Close", t)
	}
	if !t.DType.Known() || t.Rows < 0 || t.Cols < 0 || t.Cols%t.DType.BlockSize() != 0 {
		return nil, fmt.Errorf("tensor %v has an invalid shape", t)
	}
	if t.Off < 0 || t.Off > buf.n || t.Bytes() > buf.n-t.Off {
		return nil, fmt.Errorf("view %v at offset %d overruns its %d-byte buffer", t, t.Off, buf.n)
	}
	return buf, nil
}

// mustView resolves t for an op; a bad tensor is a programming error.
func mustView(op, name string, t kernels.Tensor) view {
	buf, err := checkView(t)
	if err != nil {
		panic(fmt.Sprintf("cpu: %s: %s: %v", op, name, err))
	}
	return view{p: unsafe.Add(buf.p, t.Off), dt: t.DType, rows: t.Rows, cols: t.Cols}
}

// shapePanic panics with a message naming the op and the offending shapes.
func shapePanic(op, format string, args ...any) {
	panic(fmt.Sprintf("cpu: %s: shape mismatch: %s", op, fmt.Sprintf(format, args...)))
}

// checkFloat panics unless t has a float type an op can read or write.
func checkFloat(op, name string, t kernels.Tensor) {
	if !isFloat(t.DType) {
		shapePanic(op, "%s %v must be F32, F16 or BF16", name, t)
	}
}

// checkAlias panics when out overlaps the input in (kernels.CheckAlias).
func checkAlias(op, name string, out, in kernels.Tensor, allowSame bool) {
	if err := kernels.CheckAlias(out, in, name, allowSame); err != nil {
		shapePanic(op, "%v", err)
	}
}

// cacheLayer returns layer's K and V, panicking when they do not exist or
// disagree with the spec.
func cacheLayer(op string, c *kernels.KVCache, layer int) (k, v kernels.Tensor) {
	if c == nil || layer < 0 || layer >= len(c.K) || layer >= len(c.V) {
		panic(fmt.Sprintf("cpu: %s: layer %d outside the KV cache", op, layer))
	}
	k, v = c.K[layer], c.V[layer]
	s := c.Spec
	w := s.NumKVHeads * s.HeadDim
	if k.Rows != s.Slots() || k.Cols != w || v.Rows != s.Slots() || v.Cols != w || !isFloat(k.DType) || k.DType != v.DType {
		shapePanic(op, "cache layer %d has K %v and V %v, spec says %s(%d, %d)", layer, k, v, s.DType, s.Slots(), w)
	}
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
}
