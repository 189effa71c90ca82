//go:build cgo

package cuda

import "spillway/kernels"

var (
	_ kernels.AddRMSNormer  = (*Backend)(nil)
	_ kernels.RoPEStoreKVer = (*Backend)(nil)
	_ kernels.MultiMatMuler = (*Backend)(nil)
)

// AddRMSNorm: x (T, d) += r (T, d); out (T, d) = RMSNorm(x)·w, in one
// launch of sw_rmsnorm (kernels.AddRMSNormer).
func (b *Backend) AddRMSNorm(out, x, r, w kernels.Tensor, eps float32) {
	if b.noFuse {
		b.Add(x, x, r)
		b.RMSNorm(out, x, w, eps)
		return
	}
	b.rmsnorm("AddRMSNorm", out, x, &r, w, eps)
}

// RoPEStoreKV rotates q and k in place and stores k and v into cache
// slots of layer, in one launch of sw_rope_kv (kernels.RoPEStoreKVer).
func (b *Backend) RoPEStoreKV(q, k, v kernels.Tensor, pos []int32, p kernels.RoPEParams, c *kernels.KVCache, layer int, slots []int32) {
	const op = "RoPEStoreKV"
	if b.noFuse {
		b.RoPE(q, pos, p)
		b.RoPE(k, pos, p)
		b.StoreKV(c, layer, k, v, slots)
		return
	}
	kc, vc := cacheLayer(op, c, layer)
	float(op, "q", q)
	checkRoPE(op, q, pos, p)
	checkRoPE(op, k, pos, p)
	checkStoreKV(op, kc, vc, k, v, slots)
	if q.DType != k.DType || q.Rows != k.Rows {
		shapePanic(op, "q %v, k %v", q, k)
	}
	pq, pk, pv := b.ptr(op, "q", q), b.ptr(op, "k", k), b.ptr(op, "v", v)
	pkc, pvc := b.ptr(op, "cache K", kc), b.ptr(op, "cache V", vc)
	checkAlias(op, "k", q, k, false)
	checkAlias(op, "v", q, v, false)
	checkAlias(op, "v", k, v, false)
	T := q.Rows
	if T == 0 {
		return
	}
	dpos, dinv := b.stageRoPE(op, pos, p)
	dslots := b.stageSlots(op, slots, kc.Rows)
	var a argv
	a.ptr(pq).ptr(pk).ptr(pv).i32(int(q.DType)).ptr(dpos).ptr(dinv)
	a.i32(T).i32(q.Cols).i32(k.Cols).i32(p.HeadDim).i32(p.NDims).i32(neox(p))
	a.ptr(pkc).ptr(pvc).i32(int(kc.DType)).ptr(dslots)
	half := int64(p.NDims / 2)
	n := int64(T) * (int64(q.Cols/p.HeadDim)*half + int64(k.Cols/p.HeadDim)*half + int64(k.Cols))
	b.launchFlat("sw_rope_kv", n, &a)
	written(q)
	written(k)
	written(kc)
	written(vc)
}
