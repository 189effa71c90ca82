//go:build cgo

package cuda

import (
	"spillway/kernels"
)

// The streamed GEMV (gemv_stream.cuh), for Q4_K and Q6_K under
// SPILLWAY_CUDA_GEMV=stream: a grid of as many blocks as the GPU holds at
// once, each copying an equal share of the rows into shared memory a
// stage of whole rows at a time. Its sums equal the direct kernels' bit
// for bit (TestGemvStreamMatchesDirect), so it can stand in for them on
// any shape it takes.

const (
	gemvStreamStages  = 3     // GS_STAGES
	gemvStreamStage   = 16384 // GS_STAGE_BYTES: a stage's bytes at most
	gemvStreamSmemMax = gemvStreamStages * gemvStreamStage
	// gemvStreamPerSM is the blocks an SM takes: four 48 KiB stage rings
	// fit its shared memory (228 KiB on an H100 or A100).
	gemvStreamPerSM = 4
)

// gemvStreamed reports whether the streamed GEMV takes rows of k elements
// of dt: a row must be whole 16-byte words (the copies' unit: Q6_K rows
// are when k is a multiple of 2048) and fit a stage.
func gemvStreamed(dt kernels.DType, k int) bool {
	if ownGemvs[dt].stream[1] == "" {
		return false
	}
	rb := dt.RowBytes(k)
	return rb > 0 && rb%16 == 0 && rb <= gemvStreamStage
}

// segsAligned reports whether every matrix of segs starts on an a-byte
// boundary: cp.async's 16-byte copies fault on any other address, and a
// weight's view (or a model file's own alignment) need not give one.
func segsAligned(segs []gemvSeg, a uint64) bool {
	for _, s := range segs {
		if s.pw%a != 0 {
			return false
		}
	}
	return true
}

// gemvStreamShape is the rows a stage and the grid for n rows of rb bytes
// on sms multiprocessors: at least one row a block.
func gemvStreamShape(n, rb, sms int) (S, blocks int) {
	S = max(1, gemvStreamStage/rb)
	return S, max(1, min(n, gemvStreamPerSM*sms))
}

// gemvStreamLaunch is gemv's launch of the streamed kernel (same
// arguments but the grid and a stage's rows in place of the blocks of
// each matrix).
func (b *Backend) gemvStreamLaunch(segs []gemvSeg, odt, wdt kernels.DType, k, T int, xargs func(a *argv, t0 int)) {
	var W [gemvGroupMax]int
	_, _, unit := b.gemvKernel(wdt, 1)
	n := 0
	for i, s := range segs {
		W[i] = b.gemvWarpsFor(s.n, k/unit)
		n += s.n
	}
	if n == 0 {
		return
	}
	rb := wdt.RowBytes(k)
	S, blocks := gemvStreamShape(n, rb, b.g.info.sms)
	var sg [gemvGroupMax]gemvSeg
	copy(sg[:], segs)
	for t0 := 0; t0 < T; t0 += gemvMaxT {
		nt := min(gemvMaxT, T-t0)
		var a argv
		gemvSegArgs(&a, &sg, &W, t0)
		a.i32(S).i32(int(odt))
		xargs(&a, t0)
		a.i32(k).i32(nt)
		b.launch(ownGemvs[wdt].stream[nt], [3]int{blocks, 1, 1}, [3]int{gemvThreads, 1, 1}, gemvStreamStages*S*rb, &a)
	}
}
