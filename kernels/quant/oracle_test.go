package quant

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"spillway/internal/testenv"
	"spillway/kernels"
)

// The oracle models and ggml's own dequantized rows (../shared/oracle,
// README §5). Tensor bytes are sliced straight out of the .gguf file at
// data_offset + offset, so these tests depend on no other package.

var oracleModels = []string{
	"tiny-spm-F16",
	"tiny-spm-Q8_0",
	"tiny-spm-Q4_0",
	"tiny-bpe-Q4_K_M-embQ4_K",
}

type tensorTable struct {
	DataOffset int64 `json:"data_offset"`
	Tensors    []struct {
		Name   string  `json:"name"`
		Type   string  `json:"type"`
		TypeID uint32  `json:"type_id"`
		Ne     []int64 `json:"ne"`
		Offset int64   `json:"offset"`
		NBytes int64   `json:"nbytes"`
	} `json:"tensors"`
	DequantizedRows []struct {
		Tensor string `json:"tensor"`
		Type   string `json:"type"`
		Ne0    int    `json:"ne0"`
		Rows   []int  `json:"rows"`
		File   string `json:"file"`
	} `json:"dequantized_rows"`
}

// oracleModel is one GGUF file read whole, with its tensor table.
type oracleModel struct {
	name  string
	dir   string // refs/dequant
	file  []byte
	table tensorTable
}

var modelCache sync.Map // name → *oracleModel

func loadOracle(t testing.TB, name string) *oracleModel {
	t.Helper()
	if m, ok := modelCache.Load(name); ok {
		return m.(*oracleModel)
	}
	gguf := testenv.Shared(t, "oracle/models/"+name+".gguf")
	tables := testenv.Shared(t, "oracle/refs/dequant/"+name+".tensors.json")
	m := &oracleModel{name: name, dir: filepath.Dir(tables)}
	raw, err := os.ReadFile(tables)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &m.table); err != nil {
		t.Fatalf("%s: %v", tables, err)
	}
	if m.file, err = os.ReadFile(gguf); err != nil {
		t.Fatal(err)
	}
	modelCache.Store(name, m)
	return m
}

// tensor returns a tensor's type, row length, row count and raw bytes.
func (m *oracleModel) tensor(t testing.TB, name string) (kernels.DType, int, int, []byte) {
	t.Helper()
	for _, ti := range m.table.Tensors {
		if ti.Name != name {
			continue
		}
		dt := kernels.DType(ti.TypeID)
		if !strings.EqualFold(dt.String(), ti.Type) {
			t.Fatalf("%s %s: type id %d is %s here, %q in the table", m.name, name, ti.TypeID, dt, ti.Type)
		}
		ne0, rows := int(ti.Ne[0]), int(ti.Ne[1]*ti.Ne[2]*ti.Ne[3])
		if want := int64(dt.RowBytes(ne0) * rows); want != ti.NBytes {
			t.Fatalf("%s %s: %s [%d × %d] needs %d bytes, table says %d", m.name, name, dt, ne0, rows, want, ti.NBytes)
		}
		start := m.table.DataOffset + ti.Offset
		return dt, ne0, rows, m.file[start : start+ti.NBytes]
	}
	t.Fatalf("%s: no tensor %s", m.name, name)
	return 0, 0, 0, nil
}

func readF32File(t testing.TB, path string) []float32 {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(raw)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out
}

// TestDequantizeMatchesGGML compares the first 16 rows of one tensor per
// type with ggml's to_float, bit for bit.
func TestDequantizeMatchesGGML(t *testing.T) {
	covered := map[kernels.DType]bool{}
	for _, model := range oracleModels {
		m := loadOracle(t, model)
		for _, ref := range m.table.DequantizedRows {
			t.Run(model+"/"+ref.Tensor, func(t *testing.T) {
				dt, ne0, _, data := m.tensor(t, ref.Tensor)
				want := readF32File(t, filepath.Join(m.dir, ref.File)) // (16, ne0)
				nrows := ref.Rows[1] - ref.Rows[0]
				if ne0 != ref.Ne0 || len(want) != nrows*ne0 {
					t.Fatalf("reference has %d values for %d rows of %d, tensor rows are %d", len(want), nrows, ref.Ne0, ne0)
				}
				rb := dt.RowBytes(ne0)
				got := make([]float32, ne0) // (ne0,)
				for r := range nrows {
					row := ref.Rows[0] + r
					DequantizeRow(dt, got, data[row*rb:(row+1)*rb])
					for i, g := range got {
						if w := want[r*ne0+i]; math.Float32bits(g) != math.Float32bits(w) {
							t.Fatalf("%s row %d elem %d: got %g (%08x), ggml %g (%08x)",
								dt, row, i, g, math.Float32bits(g), w, math.Float32bits(w))
						}
					}
				}
				covered[dt] = true
			})
		}
	}
	for _, dt := range []kernels.DType{kernels.F16, kernels.Q8_0, kernels.Q4_0, kernels.Q6_K, kernels.Q4_K} {
		if !covered[dt] && !t.Skipped() {
			t.Errorf("no oracle rows checked for %s", dt)
		}
	}
}
