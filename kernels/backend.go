package kernels

// Backend runs the coarse operations of a transformer forward pass on one
// device. Implementations: kernels/ref (pure Go, obviously correct, slow),
// kernels/cpu (C via cgo), kernels/cuda (CUDA via the driver API).
//
// Conventions shared by every op:
//   - Tensors are 2-D, row-major: (Rows, Cols), Cols contiguous. A weight
//     stored in GGUF as [in, out] is the tensor (out, in): one row per output.
//   - Outputs come first in the signature; out may not alias an input unless
//     the op says so.
//   - Activations (ActDType) are F32 on the CPU and F16/BF16 on CUDA. Norms,
//     softmax and logits are computed in F32; accumulation is always F32.
//   - Shape mismatches are programming errors and panic with a message that
//     names the op and the shapes. Device failures are sticky and surface
//     from Sync, never as exit().
type Backend interface {
	Name() string
	// ActDType is the type the backend wants activations in.
	ActDType() DType

	// Alloc returns a zeroed tensor of shape (rows, cols) on the device.
	Alloc(dt DType, rows, cols int) (Tensor, error)
	// FromHost makes a device tensor holding data (rows × dt.RowBytes(cols)
	// bytes). A host backend may alias data instead of copying it, so the
	// caller keeps data alive and unchanged while the tensor is used
	// (weights mmapped from a GGUF file are used in place this way).
	FromHost(dt DType, rows, cols int, data []byte) (Tensor, error)
	// Upload copies src (exactly dst's byte size) into dst.
	Upload(dst Tensor, src []byte) error
	// Download copies src into dst (exactly src's byte size).
	Download(dst []byte, src Tensor) error
	// AllocKV allocates a paged KV cache; see KVCache.
	AllocKV(spec KVSpec) (*KVCache, error)

	// Embed: out (T, d) = dequant(table (V, d))[ids[t]]. Also gathers rows of
	// an activation tensor (table of ActDType).
	Embed(out, table Tensor, ids []int32)
	// RMSNorm: out (T, d) = x / sqrt(mean(x²) + eps) * w (1, d). out may alias x.
	RMSNorm(out, x, w Tensor, eps float32)
	// MatMul: out (T, n) = x (T, k) @ w (n, k)ᵀ. w may be quantized; out may be
	// F32 even when x is F16/BF16 (logits).
	MatMul(out, x, w Tensor)
	// Add: out (T, d) = a (T, d) + b (T, d) or b (1, d) broadcast over rows.
	// out may alias a.
	Add(out, a, b Tensor)
	// SiLUMul: out (T, d) = silu(gate) * up. out may alias gate.
	SiLUMul(out, gate, up Tensor)
	// RoPE rotates x (T, nHeads·HeadDim) in place; token t is at position pos[t].
	RoPE(x Tensor, pos []int32, p RoPEParams)
	// StoreKV writes k, v (T, nKV·HeadDim) into cache slots[t] of layer.
	StoreKV(c *KVCache, layer int, k, v Tensor, slots []int32)
	// Attention: out (T, nHeads·HeadDim) = softmax(q kᵀ·Scale + mask) v over
	// the paged cache, for every sequence of b in one call. See AttnBatch.
	Attention(out, q Tensor, c *KVCache, layer int, b *AttnBatch)

	// Sync waits for queued work and returns the first device error since
	// the last Sync.
	Sync() error
	// Close frees every allocation of the backend.
	Close() error
}

// RoPEStyle says which pairs of a head's dimensions are rotated together.
type RoPEStyle int

const (
	// RoPENorm rotates adjacent pairs (2i, 2i+1): GGUF "llama" tensors.
	RoPENorm RoPEStyle = iota
	// RoPENeoX rotates (i, i+d/2): HF rotate-half layout, Qwen2 in GGUF.
	RoPENeoX
)

// RoPEParams describes the rotation of one tensor (q or k).
type RoPEParams struct {
	HeadDim int       // dimensions per head
	NDims   int       // leading dimensions of each head that rotate (≤ HeadDim)
	Base    float32   // theta base (freq_base)
	Style   RoPEStyle //
	// FreqScale multiplies positions (linear scaling; 1 = none).
	FreqScale float32
	// FreqFactors, when set (len NDims/2), divide the frequency of pair i:
	// Llama 3.1 rope scaling and GGUF rope_freqs.
	FreqFactors []float32
}

// Theta is the rotation angle of pair i at position pos: the single
// definition every backend follows.
//
//	theta = pos·FreqScale · Base^(-2i/NDims) / FreqFactors[i]
func (p RoPEParams) Theta(pos int32, i int) float64 {
	s := float64(p.FreqScale)
	if s == 0 {
		s = 1
	}
	th := float64(pos) * s * pow(float64(p.Base), -2*float64(i)/float64(p.NDims))
	if p.FreqFactors != nil {
		th /= float64(p.FreqFactors[i])
	}
	return th
}

// WeightPreparer is implemented by backends that keep MatMul weights in a
// layout of their own (the cpu backend packs them into register-tile
// panels on first use). PrepareWeights does that now for ws, so the first
// request does not pay for it; callers that skip it lose nothing else.
type WeightPreparer interface {
	PrepareWeights(ws ...Tensor) error
}

// MultiMatMuler is implemented by backends that run several MatMuls of one
// x in one call: outs[i] (T, n_i) = x (T, k) @ ws[i] (n_i, k)ᵀ, with the
// shape, type and aliasing rules of MatMul for each pair. The cpu backend
// quantizes x once and keeps its threads busy across all of ws. Results
// equal separate MatMul calls bit for bit.
type MultiMatMuler interface {
	MatMulN(outs []Tensor, x Tensor, ws []Tensor)
}
