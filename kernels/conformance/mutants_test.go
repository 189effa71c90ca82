package conformance

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"spillway/kernels"
	"spillway/kernels/quant"
	"spillway/kernels/ref"
)

// A mutant is the reference backend with one op changed. Some changes are
// legal shortcuts a fast backend takes (the suite must accept them), the
// others are the bugs fast kernels typically have (the suite must catch
// them). Each runs in a child process, since a failing Run fails its test.
var mutants = []struct {
	name     string
	group    string // the Run group that decides; "" runs them all
	wantFail bool
	new      func(*ref.Backend) kernels.Backend
}{
	{"ref", "MatMul", false, func(r *ref.Backend) kernels.Backend { return r }},
	{"q8-activations", "MatMul", false, func(r *ref.Backend) kernels.Backend { return q8Acts{r} }},
	{"f16-activations", "", false, func(r *ref.Backend) kernels.Backend { return actType{r, kernels.F16} }},
	{"bf16-activations", "", false, func(r *ref.Backend) kernels.Backend { return actType{r, kernels.BF16} }},
	{"matmul-drops-tail", "MatMul", true, func(r *ref.Backend) kernels.Backend { return dropTail{r} }},
	{"matmul-accumulates", "MatMul", true, func(r *ref.Backend) kernels.Backend { return accumulate{r} }},
	{"matmul-no-shape-check", "Shapes", true, func(r *ref.Backend) kernels.Backend { return noCheck{r} }},
	{"rmsnorm-no-eps", "RMSNorm", true, func(r *ref.Backend) kernels.Backend { return noEps{r} }},
	{"silu-swapped", "SiLUMul", true, func(r *ref.Backend) kernels.Backend { return swapSiLU{r} }},
	{"add-writes-past-view", "Add", true, func(r *ref.Backend) kernels.Backend { return pastView{r} }},
	{"embed-off-by-one", "Embed", true, func(r *ref.Backend) kernels.Backend { return offByOne{r} }},
	{"rope-style-swapped", "RoPE", true, func(r *ref.Backend) kernels.Backend { return swapStyle{r} }},
	{"rope-no-factors", "RoPE", true, func(r *ref.Backend) kernels.Backend { return noFactors{r} }},
	{"storekv-k-v-swapped", "StoreKV", true, func(r *ref.Backend) kernels.Backend { return swapKV{r} }},
	{"attention-no-window", "Attention", true, func(r *ref.Backend) kernels.Backend { return noWindow{r} }},
	{"attention-contiguous-tables", "Attention", true, func(r *ref.Backend) kernels.Backend { return contiguous{r} }},
	{"attention-writes-cache", "Attention", true, func(r *ref.Backend) kernels.Backend { return scribble{r} }},
	{"fused-by-composition", "Fused", false, func(r *ref.Backend) kernels.Backend { return composed{r} }},
	{"addnorm-keeps-x", "Fused", true, func(r *ref.Backend) kernels.Backend { return keepX{composed{r}} }},
	{"rope-kv-stores-unrotated", "Fused", true, func(r *ref.Backend) kernels.Backend { return storeFirst{composed{r}} }},
	{"matmuln-shifts-outputs", "Fused", true, func(r *ref.Backend) kernels.Backend { return shiftOuts{composed{r}} }},
}

const mutantEnv = "CONFORMANCE_MUTANT"

// TestMutantChild runs the suite against the mutant named in the
// environment; TestMutants starts it.
func TestMutantChild(t *testing.T) {
	name := os.Getenv(mutantEnv)
	if name == "" {
		t.Skip("run by TestMutants in a child process")
	}
	for _, m := range mutants {
		if m.name == name {
			Run(t, func(t *testing.T) kernels.Backend {
				r, err := ref.New(kernels.Options{})
				if err != nil {
					t.Fatal(err)
				}
				return m.new(r)
			})
			return
		}
	}
	t.Fatalf("unknown mutant %q", name)
}

func TestMutants(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child test process per mutant")
	}
	for _, m := range mutants {
		t.Run(m.name, func(t *testing.T) {
			pattern := "^TestMutantChild$"
			if m.group != "" {
				pattern += "/^" + m.group + "$"
			}
			cmd := exec.Command(os.Args[0], "-test.run="+pattern, "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), mutantEnv+"="+m.name)
			out, err := cmd.CombinedOutput()
			failed := err != nil
			if !strings.Contains(string(out), "=== RUN   TestMutantChild/"+m.group) {
				t.Fatalf("child did not run group %s:\n%s", m.group, out)
			}
			if failed != m.wantFail {
				t.Errorf("mutant %s: suite failed = %v, want %v; child output:\n%s", m.name, failed, m.wantFail, tail(out, 3000))
			}
			for _, l := range strings.Split(string(out), "\n") {
				if strings.Contains(l, "out of tolerance") || strings.Contains(l, "differ") || strings.Contains(l, "did not panic") || strings.Contains(l, "wrote") {
					t.Logf("caught: %s", strings.TrimSpace(l))
					break
				}
			}
		})
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// actType asks for F16 or BF16 activations, as the CUDA backend does;
// the reference computes on them as they are (it accepts every float
// type), so the suite's half-precision plumbing must pass it.
type actType struct {
	*ref.Backend
	dt kernels.DType
}

func (m actType) ActDType() kernels.DType { return m.dt }

// q8Acts rounds x to the type ggml pairs with the weights before the
// product (Q8_0/Q8_1/Q8_K blocks, F16, BF16), as llama.cpp's CPU backend
// does: a legal shortcut.
type q8Acts struct{ *ref.Backend }

func (m q8Acts) MatMul(out, x, w kernels.Tensor) {
	vt := quant.VecDotType(w.DType)
	m.Backend.MatMul(out, m.mapRows(x, func(row []float32) {
		buf := make([]byte, vt.RowBytes(len(row)))
		quant.QuantizeRow(vt, buf, row)
		quant.DequantizeRow(vt, row, buf)
	}), w)
}

// mapRows returns an F32 copy of x with f applied to every row.
func (m q8Acts) mapRows(x kernels.Tensor, f func(row []float32)) kernels.Tensor {
	return mapRows(m.Backend, x, f)
}

func mapRows(r *ref.Backend, x kernels.Tensor, f func(row []float32)) kernels.Tensor {
	raw := make([]byte, x.Bytes())
	if err := r.Download(raw, x); err != nil {
		panic(err)
	}
	vals := decode(x.DType, raw, x.Cols) // (T, k)
	for t := 0; t < x.Rows; t++ {
		f(vals[t*x.Cols : (t+1)*x.Cols])
	}
	y, err := r.FromHost(kernels.F32, x.Rows, x.Cols, encode(kernels.F32, vals, x.Cols))
	if err != nil {
		panic(err)
	}
	return y
}

// dropTail forgets the last block of every row (the last element for
// float weights): the classic SIMD-tail bug.
type dropTail struct{ *ref.Backend }

func (m dropTail) MatMul(out, x, w kernels.Tensor) {
	m.Backend.MatMul(out, mapRows(m.Backend, x, func(row []float32) {
		clear(row[len(row)-w.DType.BlockSize():])
	}), w)
}

// accumulate adds to out instead of overwriting it.
type accumulate struct{ *ref.Backend }

func (m accumulate) MatMul(out, x, w kernels.Tensor) {
	tmp, _ := m.Alloc(out.DType, out.Rows, out.Cols)
	m.Backend.MatMul(tmp, x, w)
	m.Add(out, out, tmp)
}

// noCheck returns silently on a k mismatch.
type noCheck struct{ *ref.Backend }

func (m noCheck) MatMul(out, x, w kernels.Tensor) {
	if x.Cols != w.Cols {
		return
	}
	m.Backend.MatMul(out, x, w)
}

type noEps struct{ *ref.Backend }

func (m noEps) RMSNorm(out, x, w kernels.Tensor, eps float32) { m.Backend.RMSNorm(out, x, w, 0) }

type swapSiLU struct{ *ref.Backend }

func (m swapSiLU) SiLUMul(out, gate, up kernels.Tensor) {
	if out == gate { // in place: keep the aliasing legal
		tmp, _ := m.Alloc(out.DType, out.Rows, out.Cols)
		m.Backend.SiLUMul(tmp, up, gate)
		raw := make([]byte, tmp.Bytes())
		_ = m.Download(raw, tmp)
		_ = m.Upload(out, raw)
		return
	}
	m.Backend.SiLUMul(out, up, gate)
}

// pastView also zeroes the row after out.
type pastView struct{ *ref.Backend }

func (m pastView) Add(out, a, b kernels.Tensor) {
	m.Backend.Add(out, a, b)
	if hb := out.Buf.(*ref.HostBuffer); out.Off+out.Bytes()+out.RowBytes() <= len(hb.Data) {
		clear(hb.Data[out.Off+out.Bytes() : out.Off+out.Bytes()+out.RowBytes()])
	}
}

type offByOne struct{ *ref.Backend }

func (m offByOne) Embed(out, table kernels.Tensor, ids []int32) {
	shifted := make([]int32, len(ids))
	for i, id := range ids {
		shifted[i] = (id + 1) % int32(table.Rows)
	}
	m.Backend.Embed(out, table, shifted)
}

type swapStyle struct{ *ref.Backend }

func (m swapStyle) RoPE(x kernels.Tensor, pos []int32, p kernels.RoPEParams) {
	p.Style = 1 - p.Style
	m.Backend.RoPE(x, pos, p)
}

type noFactors struct{ *ref.Backend }

func (m noFactors) RoPE(x kernels.Tensor, pos []int32, p kernels.RoPEParams) {
	p.FreqFactors = nil
	m.Backend.RoPE(x, pos, p)
}

type swapKV struct{ *ref.Backend }

func (m swapKV) StoreKV(c *kernels.KVCache, layer int, k, v kernels.Tensor, slots []int32) {
	m.Backend.StoreKV(c, layer, v, k, slots)
}

type noWindow struct{ *ref.Backend }

func (m noWindow) Attention(out, q kernels.Tensor, c *kernels.KVCache, layer int, b *kernels.AttnBatch) {
	nb := *b
	nb.Window = 0
	m.Backend.Attention(out, q, c, layer, &nb)
}

// contiguous assumes each sequence's blocks follow its first one.
type contiguous struct{ *ref.Backend }

func (m contiguous) Attention(out, q kernels.Tensor, c *kernels.KVCache, layer int, b *kernels.AttnBatch) {
	nb := *b
	nb.BlockTables = make([][]int32, len(b.BlockTables))
	for i, tb := range b.BlockTables {
		for j := range tb {
			nb.BlockTables[i] = append(nb.BlockTables[i], (tb[0]+int32(j))%int32(c.Spec.NumBlocks))
		}
	}
	m.Backend.Attention(out, q, c, layer, &nb)
}

// scribble zeroes the last V slot of the layer after attending.
type scribble struct{ *ref.Backend }

func (m scribble) Attention(out, q kernels.Tensor, c *kernels.KVCache, layer int, b *kernels.AttnBatch) {
	m.Backend.Attention(out, q, c, layer, b)
	v := c.V[layer]
	m.Upload(v.Slice(v.Rows-1, 1), make([]byte, v.RowBytes()))
}

// composed has every fused op, each as the sequence it stands for: the
// legal baseline of the Fused group.
type composed struct{ *ref.Backend }

func (m composed) AddRMSNorm(out, x, r, w kernels.Tensor, eps float32) {
	m.Add(x, x, r)
	m.RMSNorm(out, x, w, eps)
}

func (m composed) RoPEStoreKV(q, k, v kernels.Tensor, pos []int32, p kernels.RoPEParams, c *kernels.KVCache, layer int, slots []int32) {
	m.RoPE(q, pos, p)
	m.RoPE(k, pos, p)
	m.StoreKV(c, layer, k, v, slots)
}

func (m composed) MatMulN(outs []kernels.Tensor, x kernels.Tensor, ws []kernels.Tensor) {
	for i := range ws {
		m.MatMul(outs[i], x, ws[i])
	}
}

// keepX normalises x + r but leaves x as it was.
type keepX struct{ composed }

func (m keepX) AddRMSNorm(out, x, r, w kernels.Tensor, eps float32) {
	m.Add(out, x, r)
	m.RMSNorm(out, out, w, eps)
}

// storeFirst stores k into the cache before rotating it.
type storeFirst struct{ composed }

func (m storeFirst) RoPEStoreKV(q, k, v kernels.Tensor, pos []int32, p kernels.RoPEParams, c *kernels.KVCache, layer int, slots []int32) {
	m.StoreKV(c, layer, k, v, slots)
	m.RoPE(q, pos, p)
	m.RoPE(k, pos, p)
}

// shiftOuts runs the last weight into the last output only when there is
// one weight, and otherwise drops it: a grouped launch that loses its
// last segment.
type shiftOuts struct{ composed }

func (m shiftOuts) MatMulN(outs []kernels.Tensor, x kernels.Tensor, ws []kernels.Tensor) {
	n := len(ws)
	if n > 1 {
		n--
	}
	m.composed.MatMulN(outs[:n], x, ws[:n])
}
