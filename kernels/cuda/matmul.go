//go:build cgo

package cuda

import (
	"fmt"

	"spillway/kernels"
)

// gemvMaxT is the largest token count the GEMV kernels take in one pass.
// Up to gemvLoopMaxT tokens run as several passes, each reading the
// weights again: for decode batches of 9 to 64 sequences that is still far
// faster than the tensor-core GEMM, whose grid of 64-row tiles is too small
// to fill the GPU at so few tokens (measured on an H100 at 16 tokens,
// 4096×14336 Q4_K: 0.58 ms by GEMM against two passes of ~0.03 ms). It
// also adds a token's products in the same order in a batch of up to 64
// as alone.
const (
	gemvMaxT     = 8
	gemvLoopMaxT = 64
)

// gemvThreads: four warps a block (GEMV_WARPS in common.cuh), each row
// taken by gemvSplit of them.
const gemvThreads = 128

// gemvSplit is how many warps (1, 2 or 4) share a weight row of the GEMV:
// enough that the matrix gives about 16k warps, so that a matrix of few
// rows (4096 at Llama-3-8B's attention, 1024 at its k and v) still keeps
// the GPU's memory busy, while each lane keeps at least one piece (a
// 32-element block, or an 8-element chunk of float weights).
// It depends on the shape only: a row's sum is added in one order for
// any number of tokens.
func gemvSplit(n, pieces int) int {
	w := 1
	for w < 4 && n*w < 16384 && pieces >= 64*w {
		w *= 2
	}
	return w
}

// gemvGrid is the GEMV grid for n rows of W warps each.
func gemvGrid(n, W int) [3]int {
	rows := gemvThreads / 32 / W
	return [3]int{(n + rows - 1) / rows, 1, 1}
}

// MatMul: out (T, n) = x (T, k) @ w (n, k)ᵀ. w may be any weight type; out
// may be F32 (logits) whatever the activation type.
//
// Dispatch: F32 weights, and F16/BF16 weights at T ≤ 64, take the float
// GEMV (FP32 products); block types at T ≤ 64 take the 8-bit GEMV on x
// quantized in blocks of 32, both in passes of up to 8 tokens; everything
// else the WMMA GEMM, in F16 or BF16 as the precision policy allows (see
// matmul_mma.cu).
func (b *Backend) MatMul(out, x, w kernels.Tensor) {
	const op = "MatMul"
	float(op, "out", out)
	float(op, "x", x)
	weight(op, "w", w)
	if x.Cols != w.Cols || out.Rows != x.Rows || out.Cols != w.Rows {
		shapePanic(op, "out %v = x %v @ w %vᵀ", out, x, w)
	}
	po, px, pw := b.ptr(op, "out", out), b.ptr(op, "x", x), b.ptr(op, "w", w)
	checkAlias(op, "x", out, x, false)
	checkAlias(op, "w", out, w, false)
	checkAlign(op, "w", w, pw)
	T, n, k := x.Rows, w.Rows, w.Cols
	if T == 0 || n == 0 {
		return
	}
	switch {
	case w.DType == kernels.F32 || (T <= gemvLoopMaxT && !w.DType.Quantized()):
		b.gemvFloat(out, po, x, px, w, pw)
	case T <= gemvLoopMaxT:
		qx, ds := b.quantizeX(x, px)
		W := gemvSplit(n, k/32)
		for t0 := 0; t0 < T; t0 += gemvMaxT {
			nt := min(gemvMaxT, T-t0)
			var a argv
			a.ptr(po + uint64(t0*out.RowBytes())).i32(int(out.DType))
			a.ptr(qx + uint64(t0*k)).ptr(ds + uint64(t0*k/32*16)).ptr(pw).i32(n).i32(k).i32(nt).i32(W)
			b.launch(gemvName(w.DType, nt), gemvGrid(n, W), [3]int{gemvThreads, 1, 1}, 0, &a)
		}
	default:
		name := "sw_gemm_f16"
		if mmaBF16(w.DType, b.act) {
			name = "sw_gemm_bf16"
		}
		var a argv
		a.ptr(po).i32(int(out.DType)).ptr(px).i32(int(x.DType)).ptr(pw).i32(int(w.DType)).i32(T).i32(n).i32(k)
		b.launch(name, [3]int{(n + 63) / 64, (T + 63) / 64, 1}, [3]int{128, 1, 1}, 0, &a)
	}
	written(out)
}

// mmaBF16 says whether the GEMM multiplies in BF16: for BF16 weights
// (rounding x to 8 bits is within the policy, rounding the weights to F16
// could overflow), and for block types under BF16 activations. F16
// weights multiply in F16 whatever x is: their own precision is kept.
func mmaBF16(w, act kernels.DType) bool {
	switch w {
	case kernels.BF16:
		return true
	case kernels.F16:
		return false
	}
	return act == kernels.BF16
}

// gemvFloat runs the float-weight GEMV over x in passes of up to 8 tokens.
func (b *Backend) gemvFloat(out kernels.Tensor, po uint64, x kernels.Tensor, px uint64, w kernels.Tensor, pw uint64) {
	T, n, k := x.Rows, w.Rows, w.Cols
	W := gemvSplit(n, k/8)
	for t0 := 0; t0 < T; t0 += gemvMaxT {
		nt := min(gemvMaxT, T-t0)
		var a argv
		a.ptr(po + uint64(t0*out.RowBytes())).i32(int(out.DType))
		a.ptr(px + uint64(t0*x.RowBytes())).i32(int(x.DType))
		a.ptr(pw).i32(n).i32(k).i32(nt).i32(W)
		b.launch(gemvName(w.DType, nt), gemvGrid(n, W), [3]int{gemvThreads, 1, 1}, 0, &a)
	}
}

// q8memo remembers which activation the q8 scratch holds, so that the q,
// k and v projections (and gate and up) quantize their shared input once.
type q8memo struct {
	buf        *devBuf
	off        int
	rows, cols int
	dt         kernels.DType
	gen        uint64
}

// quantizeX quantizes x (T, k) into the q8 scratch: qx int8 (T, k) and
// ds float4 (T, k/32), and returns their device addresses.
func (b *Backend) quantizeX(x kernels.Tensor, px uint64) (qx, ds uint64) {
	T, k := x.Rows, x.Cols
	nq := T * k
	base, err := b.scr.get(b, &b.scr.q8, nq+nq/32*16)
	if err != nil {
		panic(fmt.Sprintf("cuda: MatMul: q8 scratch of %d bytes: %v", nq+nq/32*16, err))
	}
	qx, ds = base+uint64(nq/32*16), base // ds first: 16-byte aligned
	d := x.Buf.(*devBuf)
	key := q8memo{d, x.Off, x.Rows, x.Cols, x.DType, d.gen}
	// Inside a capture the memo holds too: the recording replays the
	// same quantization before the same readers. Capture clears it at
	// both edges, so a graph never relies on scratch it did not write.
	if b.q8 == key {
		return qx, ds
	}
	var a argv
	a.ptr(qx).ptr(ds).ptr(px).i32(int(x.DType)).i64(nq / 32)
	b.launchFlat("sw_quant_q8", int64(nq), &a)
	b.q8 = key
	return qx, ds
}

// checkAlign panics unless a weight at device address p has the
// alignment its decoder loads with; tensors this backend made always do.
func checkAlign(op, name string, t kernels.Tensor, p uint64) {
	if a := blockAlign(t.DType); p%uint64(a) != 0 {
		panic(fmt.Sprintf("cuda: %s: %s %v at device address %#x is not %d-byte aligned", op, name, t, p, a))
	}
}

// blockAlign is the alignment the GEMV kernels read blocks of dt with.
func blockAlign(dt kernels.DType) int {
	switch dt {
	case kernels.Q4_K, kernels.Q5_K:
		return 16
	case kernels.Q4_1, kernels.Q5_1, kernels.Q2_K, kernels.F32:
		return 4
	case kernels.Q4_0, kernels.Q5_0, kernels.Q8_0, kernels.Q3_K, kernels.Q6_K, kernels.F16, kernels.BF16:
		return 2
	}
	return 1
}

var typeNames = map[kernels.DType]string{
	kernels.F32: "f32", kernels.F16: "f16", kernels.BF16: "bf16",
	kernels.Q4_0: "q4_0", kernels.Q4_1: "q4_1", kernels.Q5_0: "q5_0", kernels.Q5_1: "q5_1", kernels.Q8_0: "q8_0",
	kernels.Q2_K: "q2_k", kernels.Q3_K: "q3_k", kernels.Q4_K: "q4_k", kernels.Q5_K: "q5_k", kernels.Q6_K: "q6_k",
}

// gemvTokens are the token counts GEMV kernels are compiled for; a call
// with T tokens runs the smallest one ≥ T.
var gemvTokens = []int{1, 2, 4, 8}

var gemvNames = func() map[kernels.DType][gemvMaxT + 1]string {
	m := map[kernels.DType][gemvMaxT + 1]string{}
	for dt, s := range typeNames {
		var names [gemvMaxT + 1]string
		for t := 1; t <= gemvMaxT; t++ {
			for _, nt := range gemvTokens {
				if nt >= t {
					names[t] = fmt.Sprintf("sw_gemv_%s_%d", s, nt)
					break
				}
			}
		}
		m[dt] = names
	}
	return m
}()

func gemvName(dt kernels.DType, T int) string { return gemvNames[dt][T] }

// kernelNames lists every kernel the backend launches.
func kernelNames() []string {
	names := []string{"sw_embed", "sw_add", "sw_silumul", "sw_store_kv", "sw_quant_q8", "sw_rmsnorm",
		"sw_rope", "sw_gemm_f16", "sw_gemm_bf16", "sw_attn", "sw_attn_combine"}
	for _, s := range typeNames {
		for _, nt := range gemvTokens {
			names = append(names, fmt.Sprintf("sw_gemv_%s_%d", s, nt))
		}
	}
	return names
}
