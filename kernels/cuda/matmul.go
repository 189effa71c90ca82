//go:build cgo

package cuda

import (
	"fmt"
	"strings"

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
// 32-element block, a 64-element Q6_K unit, or an 8-element chunk of
// float weights). Going from 2 warps a row to 4 once the matrix has 8k
// warps must leave each lane two pieces: on an H100 (GEMVGraph with
// SPILLWAY_CUDA_GEMV_SPLIT, session 14) Q4_K 4096×4096 took 5.85 µs at 4
// warps a row (one piece a lane) against 5.62 at 2, and Q6_K 4096×14336
// 28.1 (3.5 pieces) against 27.0; single-stream Q4_K_M decode gained 2–5%.
// From 1 to 2 the rule stays: Q6_K 14336×4096 at one warp a row took
// 27.4 µs against 22.9.
// It depends on the shape only: a row's sum is added in one order for
// any number of tokens.
func gemvSplit(n, pieces int) int {
	w := 1
	for w < 4 && n*w < 16384 && pieces >= 64*w*gemvMinPieces(n, w) {
		w *= 2
	}
	return w
}

// gemvWarpsFor is the warps a row for n rows of the given pieces:
// gemvSplit's, or SPILLWAY_CUDA_GEMV_SPLIT's when set.
func (b *Backend) gemvWarpsFor(n, pieces int) int {
	if b.gemvWarps > 0 {
		return b.gemvWarps
	}
	return gemvSplit(n, pieces)
}

// gemvMinPieces is the pieces each lane must keep for gemvSplit to split
// n rows of w warps each further.
func gemvMinPieces(n, w int) int {
	if w >= 2 && n*w >= 8192 {
		return 2
	}
	return 1
}

// gemvGrid is the GEMV grid for n rows of W warps each, R rows a warp.
func gemvGrid(n, W, R int) [3]int {
	rows := gemvThreads / 32 / W * R
	return [3]int{(n + rows - 1) / rows, 1, 1}
}

// gemvKernel is the GEMV kernel for weights of dt at nt tokens: its name,
// the rows each warp takes, and the elements of a lane's unit of work
// (gemvSplit weighs k/unit). Q4_K and Q6_K have kernels of their own
// (matmul_q4k.cu, matmul_q6k.cu), and F16 and BF16 take two rows a warp,
// unless SPILLWAY_CUDA_GEMV=generic asks for the generic kernel of one
// row a warp, which is kept for side-by-side measurement.
func (b *Backend) gemvKernel(dt kernels.DType, nt int) (name string, rows, unit int) {
	if own, ok := ownGemvs[dt]; ok && b.gemvPath != gemvGeneric {
		return own.names[nt], own.rows, own.unit
	}
	unit = 32 // a piece: one block of the q8 activations
	if !dt.Quantized() {
		unit = 8 // a 16-byte chunk of 16-bit weights
	}
	return gemvName(dt, nt), 1, unit
}

// ownGemv is a weight type's own GEMV: its kernels by token count, rows a
// warp (Q4K_R, Q6K_R, R of matmul_q4k.cu, matmul_q6k.cu, matmul_f.cu) and
// elements of a lane's unit; and its streamed kernels (gemv_stream.cuh,
// GEMV_OWN_KERNELS), for the types that have them.
type ownGemv struct {
	names, stream [gemvMaxT + 1]string
	rows, unit    int
}

var ownGemvs = func() map[kernels.DType]ownGemv {
	m := map[kernels.DType]ownGemv{}
	for _, c := range []struct {
		dt         kernels.DType
		from, to   string // gemvName's type part and the own kernel's
		rows, unit int
		stream     bool
	}{
		{kernels.Q4_K, "q4_k", "q4k", 2, 32, true},
		{kernels.Q6_K, "q6_k", "q6k", 2, 64, true},
		{kernels.F16, "f16", "f16_r2", 2, 8, false},
		{kernels.BF16, "bf16", "bf16_r2", 2, 8, false},
	} {
		g := ownGemv{rows: c.rows, unit: c.unit}
		for t := 1; t <= gemvMaxT; t++ {
			g.names[t] = strings.Replace(gemvName(c.dt, t), "_"+c.from+"_", "_"+c.to+"_", 1)
			if c.stream {
				g.stream[t] = strings.Replace(g.names[t], "sw_gemv_", "sw_gemvs_", 1)
			}
		}
		m[c.dt] = g
	}
	return m
}()

// MatMul: out (T, n) = x (T, k) @ w (n, k)ᵀ. w may be any weight type; out
// may be F32 (logits) whatever the activation type.
//
// Dispatch: F32 weights, and F16/BF16 weights at T ≤ 64, take the float
// GEMV (FP32 products); block types at T ≤ 64 take the 8-bit GEMV on x
// quantized in blocks of 32, both in passes of up to 8 tokens; everything
// else the WMMA GEMM, in F16 or BF16 as the precision policy allows (see
// matmul_mma.cu).
func (b *Backend) MatMul(out, x, w kernels.Tensor) {
	b.matmulGroup([]kernels.Tensor{out}, x, []kernels.Tensor{w})
}

// MatMulN: outs[i] = x @ ws[i]ᵀ (kernels.MultiMatMuler). Runs of up to
// three weights of one type, width and output type that the GEMV takes
// share each launch (the q, k and v projections; gate and up); results
// equal separate MatMul calls bit for bit, since each matrix keeps its own
// warps per row and x is quantized once either way.
func (b *Backend) MatMulN(outs []kernels.Tensor, x kernels.Tensor, ws []kernels.Tensor) {
	if len(outs) != len(ws) {
		panic(fmt.Sprintf("cuda: MatMulN: %d outputs for %d weights", len(outs), len(ws)))
	}
	group := gemvGroupMax
	if b.noFuse {
		group = 1
	}
	for i := 0; i < len(ws); {
		j := i + 1
		for j < len(ws) && j-i < group && sameGroup(outs[i], ws[i], outs[j], ws[j]) {
			j++
		}
		b.matmulGroup(outs[i:j], x, ws[i:j])
		i = j
	}
}

// gemvGroupMax is the most matrices one GEMV launch takes (gseg).
const gemvGroupMax = 3

func sameGroup(o0, w0, o1, w1 kernels.Tensor) bool {
	return w0.DType == w1.DType && w0.Cols == w1.Cols && o0.DType == o1.DType
}

// matmulGroup checks each product as MatMul does, then runs them: in one
// launch per pass when the GEMV takes them, else one by one.
func (b *Backend) matmulGroup(outs []kernels.Tensor, x kernels.Tensor, ws []kernels.Tensor) {
	const op = "MatMul"
	float(op, "x", x)
	px := b.ptr(op, "x", x)
	segs := make([]gemvSeg, len(ws))
	for i, w := range ws {
		out := outs[i]
		float(op, "out", out)
		weight(op, "w", w)
		if x.Cols != w.Cols || out.Rows != x.Rows || out.Cols != w.Rows {
			shapePanic(op, "out %v = x %v @ w %vᵀ", out, x, w)
		}
		segs[i] = gemvSeg{po: b.ptr(op, "out", out), pw: b.ptr(op, "w", w), n: w.Rows, rowBytes: out.RowBytes()}
		checkAlias(op, "x", out, x, false)
		checkAlias(op, "w", out, w, false)
		checkAlign(op, "w", w, segs[i].pw)
	}
	T, k, wdt := x.Rows, x.Cols, ws[0].DType
	if T == 0 {
		return
	}
	switch {
	case wdt == kernels.F32 || (T <= gemvLoopMaxT && !wdt.Quantized()):
		b.gemv(segs, outs[0].DType, wdt, k, T, func(a *argv, t0 int) {
			a.ptr(px + uint64(t0*x.RowBytes())).i32(int(x.DType))
		})
	case T <= gemvLoopMaxT:
		qx, ds := b.quantizeX(x, px)
		b.gemv(segs, outs[0].DType, wdt, k, T, func(a *argv, t0 int) {
			a.ptr(qx + uint64(t0*k)).ptr(ds + uint64(t0*k/32*16))
		})
	default:
		for i, w := range ws {
			if w.Rows > 0 {
				b.gemm(segs[i].po, outs[i], px, x, segs[i].pw, w)
			}
		}
	}
	for _, out := range outs {
		written(out)
	}
}

// gemvSeg is one matrix of a GEMV launch: output and weight addresses and
// sizes.
type gemvSeg struct {
	po, pw      uint64
	n, rowBytes int // rows of w; bytes of a row of out
}

// gemv launches the GEMV over segs in passes of up to gemvMaxT tokens;
// xargs appends the kernel's x arguments for the pass starting at token
// t0.
func (b *Backend) gemv(segs []gemvSeg, odt, wdt kernels.DType, k, T int, xargs func(a *argv, t0 int)) {
	if b.gemvPath == gemvStream && gemvStreamed(wdt, k) && segsAligned(segs, 16) {
		b.gemvStreamLaunch(segs, odt, wdt, k, T, xargs)
		return
	}
	var W, nb [gemvGroupMax]int
	_, R, unit := b.gemvKernel(wdt, 1)
	blocks := 0
	for i, s := range segs {
		W[i] = b.gemvWarpsFor(s.n, k/unit)
		nb[i] = gemvGrid(s.n, W[i], R)[0]
		blocks += nb[i]
	}
	if blocks == 0 {
		return
	}
	var sg [gemvGroupMax]gemvSeg // the unused ones are zero: no rows, no blocks
	copy(sg[:], segs)
	for t0 := 0; t0 < T; t0 += gemvMaxT {
		nt := min(gemvMaxT, T-t0)
		var a argv
		gemvSegArgs(&a, &sg, &W, t0)
		a.i32(nb[0]).i32(nb[1]).i32(int(odt))
		xargs(&a, t0)
		a.i32(k).i32(nt)
		name, _, _ := b.gemvKernel(wdt, nt)
		b.launch(name, [3]int{blocks, 1, 1}, [3]int{gemvThreads, 1, 1}, 0, &a)
	}
}

// gemvSegArgs appends the matrices' arguments of a GEMV pass starting at
// token t0 (GEMV_GROUP_PARAMS and GEMV_STREAM_PARAMS open with them):
// outputs, weights, rows and warps a row.
func gemvSegArgs(a *argv, sg *[gemvGroupMax]gemvSeg, W *[gemvGroupMax]int, t0 int) {
	for _, s := range sg {
		a.ptr(s.po + uint64(t0*s.rowBytes))
	}
	for _, s := range sg {
		a.ptr(s.pw)
	}
	for _, s := range sg {
		a.i32(s.n)
	}
	for _, w := range W {
		a.i32(w)
	}
}

// gemm runs the WMMA GEMM for one product (T > 64, or quantized weights
// past the GEMV).
func (b *Backend) gemm(po uint64, out kernels.Tensor, px uint64, x kernels.Tensor, pw uint64, w kernels.Tensor) {
	T, n, k := x.Rows, w.Rows, w.Cols
	name := "sw_gemm_f16"
	if mmaBF16(w.DType, b.act) {
		name = "sw_gemm_bf16"
	}
	var a argv
	a.ptr(po).i32(int(out.DType)).ptr(px).i32(int(x.DType)).ptr(pw).i32(int(w.DType)).i32(T).i32(n).i32(k)
	b.launch(name, [3]int{(n + 63) / 64, (T + 63) / 64, 1}, [3]int{128, 1, 1}, 0, &a)
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
	qx, ds = b.q8Scratch(x.Rows, x.Cols)
	key := q8Key(x)
	// Inside a capture the memo holds too: the recording replays the
	// same quantization before the same readers. Capture clears it at
	// both edges, so a graph never relies on scratch it did not write.
	if b.q8 == key {
		return qx, ds
	}
	var a argv
	nq := x.Rows * x.Cols
	a.ptr(qx).ptr(ds).ptr(px).i32(int(x.DType)).i64(nq / 32)
	b.launchFlat("sw_quant_q8", int64(nq), &a)
	b.q8 = key
	return qx, ds
}

// q8Scratch returns the q8 scratch for T rows of k: qx int8 (T, k) after
// ds float4 (T, k/32), which comes first to stay 16-byte aligned.
func (b *Backend) q8Scratch(T, k int) (qx, ds uint64) {
	nq := T * k
	base, err := b.scr.get(b, &b.scr.q8, nq+nq/32*16)
	if err != nil {
		panic(fmt.Sprintf("cuda: MatMul: q8 scratch of %d bytes: %v", nq+nq/32*16, err))
	}
	return base + uint64(nq/32*16), base
}

// q8Key names x as it is now (its generation counts writes).
func q8Key(x kernels.Tensor) q8memo {
	d := x.Buf.(*devBuf)
	return q8memo{d, x.Off, x.Rows, x.Cols, x.DType, d.gen}
}

// q8Out says whether an op writing out (T, d) should also write its 8-bit
// form into the q8 scratch, for the MatMul that reads out next, and where:
// when a block-quantized weight is loaded (so a MatMul may want it), out
// is decode-sized (the GEMV path) and d is whole blocks of 32. The op sets
// the memo to out after it marks out written, so a MatMul of out skips
// sw_quant_q8 (one launch less a layer for each such op), and any later
// write to out or to the scratch makes it quantize again.
func (b *Backend) q8Out(out kernels.Tensor) (qx, ds uint64, ok bool) {
	if b.noFuse || !b.quantW || out.Rows == 0 || out.Rows > gemvLoopMaxT || out.Cols%32 != 0 {
		return 0, 0, false
	}
	qx, ds = b.q8Scratch(out.Rows, out.Cols)
	return qx, ds, true
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
		"sw_rope", "sw_rope_kv", "sw_gemm_f16", "sw_gemm_bf16", "sw_attn", "sw_attn_combine"}
	for _, s := range typeNames {
		for _, nt := range gemvTokens {
			names = append(names, fmt.Sprintf("sw_gemv_%s_%d", s, nt))
		}
	}
	for _, own := range ownGemvs {
		for _, nt := range gemvTokens {
			names = append(names, own.names[nt])
			if own.stream[nt] != "" {
				names = append(names, own.stream[nt])
			}
		}
	}
	return names
}
