//go:build cgo

package cpu

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"spillway/internal/testenv"
	"spillway/kernels"
)

// dequantIndex is the part of oracle/refs/dequant/<model>.tensors.json
// this test reads (see ../shared/oracle/README.md §5).
type dequantIndex struct {
	ModelFile  string `json:"model_file"`
	DataOffset int64  `json:"data_offset"`
	Tensors    []struct {
		Name   string `json:"name"`
		TypeID int    `json:"type_id"`
		Offset int64  `json:"offset"`
	} `json:"tensors"`
	Rows []struct {
		Tensor string `json:"tensor"`
		Ne0    int    `json:"ne0"`
		Rows   [2]int `json:"rows"`
		File   string `json:"file"`
	} `json:"dequantized_rows"`
}

// TestEmbedMatchesGGML gathers the first rows of real GGUF tensors (F16,
// Q8_0, Q4_0, Q4_K, Q6_K) with Embed straight from the file bytes and
// checks them bit for bit against what ggml's to_float produced.
func TestEmbedMatchesGGML(t *testing.T) {
	dir := testenv.Shared(t, "oracle/refs/dequant")
	idx, _ := filepath.Glob(filepath.Join(dir, "*.tensors.json"))
	if len(idx) == 0 {
		t.Skip("no dequantization references in ../shared")
	}
	b, err := New(kernels.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, f := range idx {
		var ix dequantIndex
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &ix); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		model := testenv.Shared(t, filepath.Join("oracle/models", ix.ModelFile))
		for _, r := range ix.Rows {
			t.Run(ix.ModelFile+"/"+r.Tensor, func(t *testing.T) {
				for _, ten := range ix.Tensors {
					if ten.Name == r.Tensor {
						embedRows(t, b, model, ix.DataOffset+ten.Offset, kernels.DType(ten.TypeID), r.Ne0, r.Rows[1]-r.Rows[0], filepath.Join(dir, r.File))
						return
					}
				}
				t.Fatalf("tensor %s is not in the table", r.Tensor)
			})
		}
	}
}

func embedRows(t *testing.T, b *Backend, model string, off int64, dt kernels.DType, cols, rows int, want string) {
	fh, err := os.Open(model)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	data := make([]byte, rows*dt.RowBytes(cols))
	if _, err := fh.ReadAt(data, off); err != nil {
		t.Fatal(err)
	}
	table, err := b.FromHost(dt, rows, cols, data)
	if err != nil {
		t.Fatal(err)
	}
	out, err := b.Alloc(kernels.F32, rows, cols)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int32, rows)
	for i := range ids {
		ids[i] = int32(i)
	}
	b.Embed(out, table, ids)
	got := download(t, b, out)
	ref, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if len(ref) != 4*len(got) {
		t.Fatalf("%s holds %d bytes, want %d", want, len(ref), 4*len(got))
	}
	for i, g := range got {
		if w := binary.LittleEndian.Uint32(ref[4*i:]); math.Float32bits(g) != w {
			t.Fatalf("%s row %d col %d: got %g (%#08x), ggml %g (%#08x)", dt, i/cols, i%cols, g, math.Float32bits(g), math.Float32frombits(w), w)
		}
	}
}
