//go:build cgo

package cpu

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"spillway/kernels"
	"spillway/kernels/quant"
)

func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1, &ru) // RUSAGE_THREAD
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func devWeights(dt kernels.DType, n, k int) []byte {
	rng := rand.New(rand.NewPCG(uint64(dt), uint64(k)))
	rb := dt.RowBytes(k)
	rows := make([]byte, 16*rb)
	src := make([]float32, k)
	for r := 0; r < 16; r++ {
		for i := range src {
			src[i] = float32(rng.NormFloat64() * 0.02)
		}
		quant.QuantizeRow(dt, rows[r*rb:(r+1)*rb], src)
	}
	data := make([]byte, n*rb)
	for r := 0; r < n; r++ {
		copy(data[r*rb:], rows[(r%16)*rb:])
	}
	return data
}

func TestDevCPUTime(t *testing.T) {
	if os.Getenv("SW_DEV") == "" {
		t.Skip()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b, _ := newISA(kernels.Options{Threads: 1}, "avx2")
	defer b.Close()
	types := []kernels.DType{kernels.F16, kernels.Q8_0, kernels.Q4_0, kernels.Q4_K, kernels.Q6_K}
	for _, dt := range types {
		for _, T := range []int{1, 1, 512} {
			n, k := 2048, 2048
			if T == 1 {
				n = 5632
			}
			if T == 1 && dt == kernels.F16 {
				n = 1024
			}
			w, _ := b.FromHost(dt, n, k, devWeights(dt, n, k))
			x, _ := b.Alloc(kernels.F32, T, k)
			xs := make([]float32, T*k)
			for i := range xs {
				xs[i] = float32(rand.NormFloat64())
			}
			b.Upload(x, f32bytes(xs))
			out, _ := b.Alloc(kernels.F32, T, n)
			b.MatMul(out, x, w)
			iters := 3
			if T == 1 {
				iters = 200
			}
			c0 := threadCPU()
			w0 := time.Now()
			for i := 0; i < iters; i++ {
				b.MatMul(out, x, w)
			}
			cpu := (threadCPU() - c0).Seconds() / float64(iters)
			wall := time.Since(w0).Seconds() / float64(iters)
			fmt.Printf("%-5s T=%-3d n=%d k=%d  cpu %.3f ms  wall %.3f ms  %.1f GFLOP/s/core  %.2f GB/s/core\n", dt, T, n, k, cpu*1e3, wall*1e3,
				2*float64(T*n*k)/cpu/1e9, float64(w.Bytes())/cpu/1e9)
		}
	}
}

func TestDevAttnCPU(t *testing.T) {
	if os.Getenv("SW_DEV") == "" {
		t.Skip()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	be, _ := newISA(kernels.Options{Threads: 1}, "avx2")
	defer be.Close()
	const heads, kvHeads, hd, bs = 32, 4, 64, 16
	for _, c := range []struct {
		name     string
		seqs, nq int
		ctx      int
	}{{"decode", 1, 1, 512}, {"decode16", 16, 1, 512}, {"prefill", 1, 512, 512}} {
		blocksPer := (c.ctx + bs - 1) / bs
		kv, _ := be.AllocKV(kernels.KVSpec{NumLayers: 1, NumBlocks: c.seqs * blocksPer, BlockSize: bs, NumKVHeads: kvHeads, HeadDim: hd, DType: kernels.F16})
		T := c.seqs * c.nq
		q, _ := be.Alloc(kernels.F32, T, heads*hd)
		out, _ := be.Alloc(kernels.F32, T, heads*hd)
		ab := &kernels.AttnBatch{NumHeads: heads, NumKVHeads: kvHeads, HeadDim: hd, Scale: 0.125}
		ab.QStart = append(ab.QStart, 0)
		for s := 0; s < c.seqs; s++ {
			tab := make([]int32, blocksPer)
			for i := range tab {
				tab[i] = int32(s*blocksPer + i)
			}
			ab.BlockTables = append(ab.BlockTables, tab)
			ab.CtxLen = append(ab.CtxLen, int32(c.ctx))
			ab.QStart = append(ab.QStart, int32((s+1)*c.nq))
		}
		iters := 5
		if c.nq == 1 {
			iters = 50
		}
		be.Attention(out, q, kv, 0, ab)
		c0 := threadCPU()
		for i := 0; i < iters; i++ {
			be.Attention(out, q, kv, 0, ab)
		}
		cpu := (threadCPU() - c0).Seconds() / float64(iters)
		pairs := float64(c.seqs * heads * c.nq * c.ctx)
		if c.nq > 1 {
			pairs = float64(c.seqs*heads) * float64(c.nq) * float64(c.ctx+1) / 2
		}
		fmt.Printf("%-9s cpu %.3f ms  %.1f GFLOP/s/core\n", c.name, cpu*1e3, 4*hd*pairs/cpu/1e9)
	}
}

func TestDevSweepT(t *testing.T) {
	if os.Getenv("SW_DEV") == "" {
		t.Skip()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b, _ := newISA(kernels.Options{Threads: 1}, "avx2")
	defer b.Close()
	for _, dt := range []kernels.DType{kernels.F16, kernels.Q8_0, kernels.Q4_0, kernels.Q4_K, kernels.Q6_K} {
		n, k := 2048, 2048
		w, _ := b.FromHost(dt, n, k, devWeights(dt, n, k))
		line := fmt.Sprintf("%-5s", dt)
		for _, T := range []int{1, 2, 3, 4, 5, 6, 8, 12} {
			x, _ := b.Alloc(kernels.F32, T, k)
			out, _ := b.Alloc(kernels.F32, T, n)
			b.MatMul(out, x, w)
			c0 := threadCPU()
			for i := 0; i < 20; i++ {
				b.MatMul(out, x, w)
			}
			cpu := (threadCPU() - c0).Seconds() / 20
			line += fmt.Sprintf("  T=%d %.0fus", T, cpu*1e6)
		}
		fmt.Println(line)
	}
}

func minWall(reps int, f func()) time.Duration {
	best := time.Hour
	for i := 0; i < reps; i++ {
		t0 := time.Now()
		f()
		if d := time.Since(t0); d < best {
			best = d
		}
	}
	return best
}

func TestDevMin(t *testing.T) {
	if os.Getenv("SW_DEV") == "" {
		t.Skip()
	}
	threads := 1
	if os.Getenv("SW_THREADS") != "" {
		threads = 2
	}
	b, _ := newISA(kernels.Options{Threads: threads}, "avx2")
	defer b.Close()
	for _, dt := range []kernels.DType{kernels.F16, kernels.Q8_0, kernels.Q4_0, kernels.Q4_K, kernels.Q6_K} {
		n, k := 2048, 2048
		w, _ := b.FromHost(dt, n, k, devWeights(dt, n, k))
		line := fmt.Sprintf("%-5s", dt)
		for _, T := range []int{1, 2, 4, 5, 6, 8, 16, 64} {
			x, _ := b.Alloc(kernels.F32, T, k)
			out, _ := b.Alloc(kernels.F32, T, n)
			d := minWall(40, func() { b.MatMul(out, x, w) })
			line += fmt.Sprintf(" T=%d:%.0f", T, float64(d.Microseconds()))
		}
		fmt.Println(line, "(us, min of 40)")
	}
}
