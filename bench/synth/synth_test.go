package synth

import (
	"bytes"
	"testing"

	"spillway/engine/gguf"
	"spillway/kernels"
)

// TestWriteTinyAllMixes writes a small model in every mix and checks the tensor
// table: every tensor's byte size matches its type's block layout, the mix
// rules hold, and the same seed gives the same bytes.
func TestWriteTinyAllMixes(t *testing.T) {
	p := Presets["tiny"]
	p.Vocab, p.Layers, p.FFN = 512, 2, 512 // keep the k-quant searches quick
	for _, name := range MixNames() {
		t.Run(name, func(t *testing.T) {
			m, _ := ParseMix(name)
			var a, b bytes.Buffer
			if err := Write(&a, Options{Preset: p, Mix: m, Seed: 7}); err != nil {
				t.Fatal(err)
			}
			if err := Write(&b, Options{Preset: p, Mix: m, Seed: 7}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Fatal("same seed wrote different files")
			}
			f, err := gguf.Parse(a.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			checkTable(t, f, m)
		})
	}
}

func checkTable(t *testing.T, f *gguf.File, m Mix) {
	t.Helper()
	for _, ti := range f.Tensors {
		dt := kernels.DType(ti.Type)
		n := int64(1)
		for _, d := range ti.Dims[1:] {
			n *= int64(d)
		}
		if want := n * int64(dt.RowBytes(int(ti.Dims[0]))); ti.Size != want {
			t.Errorf("%s: %d bytes, want %d for %s %v", ti.Name, ti.Size, want, dt, ti.Dims)
		}
		isNorm := len(ti.Dims) == 1
		if isNorm && dt != kernels.F32 {
			t.Errorf("%s: norm stored as %s", ti.Name, dt)
		}
		if ti.Name == "output.weight" && lowBits(m.Base) && dt != kernels.Q6_K {
			t.Errorf("output.weight is %s, want Q6_K for %s", dt, m.Name)
		}
	}
	if ft, _ := f.Uint("general.file_type"); uint32(ft) != m.FileType {
		t.Errorf("file_type %d, want %d", ft, m.FileType)
	}
}

// TestQ4KMUpgrades: Q4_K_M puts Q6_K on llama.cpp's choice of layers.
func TestQ4KMUpgrades(t *testing.T) {
	m, _ := ParseMix("q4_k_m")
	var six []int
	for i := 0; i < 22; i++ {
		if m.TypeFor("ffn_down", i, 22, 5632, false) == kernels.Q6_K {
			six = append(six, i)
		}
	}
	want := []int{0, 1, 4, 7, 10, 13, 16, 19, 20, 21}
	if len(six) != len(want) {
		t.Fatalf("Q6_K layers %v, want %v", six, want)
	}
	for i := range want {
		if six[i] != want[i] {
			t.Fatalf("Q6_K layers %v, want %v", six, want)
		}
	}
	if got := m.TypeFor("ffn_down", 2, 22, 5632, false); got != kernels.Q4_K {
		t.Errorf("layer 2 ffn_down %s, want Q4_K", got)
	}
}

// TestWriteFileTinyLlamaShape checks a full-size preset's table without
// materialising it: the plan alone gives the shapes and types.
func TestPlanTinyLlamaQ4_0(t *testing.T) {
	m, _ := ParseMix("q4_0")
	p := Presets["tinyllama-1.1b"]
	var total int64
	for _, tp := range plan(p, m) {
		total += int64(tp.rows) * int64(tp.dt.RowBytes(tp.cols))
	}
	// 22 layers of Q4_0 matrices, Q4_0 embeddings, Q6_K output: 606.5 MiB.
	if total < 600<<20 || total > 612<<20 {
		t.Errorf("tinyllama q4_0 weights %d bytes, want about 606 MiB", total)
	}
}
