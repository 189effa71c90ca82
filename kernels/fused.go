package kernels

// Fused ops: optional interfaces that a backend implements when it can run
// a common sequence of ops in one pass (one kernel launch on a GPU, where
// a decode step is bound by launches as much as by bytes). Each is defined
// as that sequence, and an implementation must equal it bit for bit, so a
// caller may take either path; the helpers below do that choice.

// AddRMSNormer fuses a residual add with the RMSNorm after it.
type AddRMSNormer interface {
	// AddRMSNorm: x (T, d) += r (T, d), then out (T, d) = RMSNorm(x)·w
	// (1, d): Add(x, x, r) then RMSNorm(out, x, w, eps). out may not alias
	// x or r.
	AddRMSNorm(out, x, r, w Tensor, eps float32)
}

// RoPEStoreKVer fuses the rotation of q and k with the store of k and v
// into the cache.
type RoPEStoreKVer interface {
	// RoPEStoreKV: RoPE(q, pos, p), RoPE(k, pos, p), then
	// StoreKV(c, layer, k, v, slots).
	RoPEStoreKV(q, k, v Tensor, pos []int32, p RoPEParams, c *KVCache, layer int, slots []int32)
}

// AddRMSNorm runs x += r; out = RMSNorm(x)·w on be, fused when be can.
func AddRMSNorm(be Backend, out, x, r, w Tensor, eps float32) {
	if f, ok := be.(AddRMSNormer); ok {
		f.AddRMSNorm(out, x, r, w, eps)
		return
	}
	be.Add(x, x, r)
	be.RMSNorm(out, x, w, eps)
}

// RoPEStoreKV rotates q and k and stores k and v into layer of c on be,
// fused when be can.
func RoPEStoreKV(be Backend, q, k, v Tensor, pos []int32, p RoPEParams, c *KVCache, layer int, slots []int32) {
	if f, ok := be.(RoPEStoreKVer); ok {
		f.RoPEStoreKV(q, k, v, pos, p, c, layer, slots)
		return
	}
	be.RoPE(q, pos, p)
	be.RoPE(k, pos, p)
	be.StoreKV(c, layer, k, v, slots)
}
