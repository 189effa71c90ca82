package ref_test

import (
	"fmt"
	"strings"
	"testing"

	"spillway/kernels"
)

// otherBuf is storage of some other backend.
type otherBuf struct{}

func (otherBuf) Bytes() int { return 1 << 20 }

func TestPanicMessages(t *testing.T) {
	b := newRef(t)
	x := tensor(t, b, 3, 4)     // (3, 4)
	w := tensor(t, b, 5, 6)     // (5, 6)
	wide := tensor(t, b, 4, 32) // (4, 32)
	foreign := kernels.Tensor{DType: kernels.F32, Rows: 3, Cols: 4, Buf: otherBuf{}}
	cases := []struct {
		name string
		call func()
		want string // substring of the panic message
	}{
		{"shape", func() { b.MatMul(tensor(t, b, 3, 5), x, w) }, "ref: MatMul: shape mismatch: out F32(3, 5) = x F32(3, 4) @ w F32(5, 6)ᵀ"},
		{"foreign", func() { b.Add(x, x, foreign) }, "ref: Add: b: tensor F32(3, 4) is not a ref tensor"},
		{"overlap", func() { b.MatMul(wide.Slice(1, 2), wide.Slice(0, 2), tensor(t, b, 32, 32)) }, "ref: MatMul: out F32(2, 32) at byte 128 overlaps x F32(2, 32) at byte 0"},
		{"partial alias", func() { b.RMSNorm(wide.Slice(1, 2), wide.Slice(0, 2), tensor(t, b, 1, 32), 1e-5) }, "overlaps x"},
		{"quantized out", func() { b.Add(kernels.Tensor{DType: kernels.Q8_0, Rows: 3, Cols: 32}, wide, wide) }, "must be F32, F16 or BF16"},
		{"view past buffer", func() { b.Add(x, x, func() kernels.Tensor { v := x; v.Off = 8; return v }()) }, "overruns its 48-byte buffer"},
		{"embed id", func() { b.Embed(tensor(t, b, 1, 6), w, []int32{5}) }, "ref: Embed: id 5 (row 0) outside table F32(5, 6)"},
		{"rope ndims", func() { b.RoPE(x, []int32{0, 0, 0}, kernels.RoPEParams{HeadDim: 4, NDims: 3}) }, "NDims 3 must be even"},
		{"rope factors", func() {
			b.RoPE(x, []int32{0, 0, 0}, kernels.RoPEParams{HeadDim: 4, NDims: 4, FreqFactors: []float32{1}})
		}, "1 freq factors for NDims 4"},
		{"attention nil cache", func() { b.Attention(x, x, nil, 0, &kernels.AttnBatch{}) }, "ref: Attention: layer 0 outside the KV cache"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatalf("no panic, want %q", c.want)
				}
				if msg := fmt.Sprint(r); !strings.Contains(msg, c.want) {
					t.Errorf("panic %q, want it to contain %q", msg, c.want)
				}
			}()
			c.call()
		})
	}
}

func TestFromHostAliases(t *testing.T) {
	b := newRef(t)
	data := make([]byte, 8)
	x, err := b.FromHost(kernels.F32, 1, 2, data)
	if err != nil {
		t.Fatal(err)
	}
	data[3] = 0x3f
	data[2] = 0x80 // data[0:4] = 1.0
	near(t, "x", values(t, b, x), []float64{1, 0}, 0)
}

func TestAllocErrors(t *testing.T) {
	b := newRef(t)
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"block", second(b.Alloc(kernels.Q4_K, 1, 255)), "ref: Alloc: row length 255 is not a positive multiple of the Q4_K block size 256"},
		{"huge", second(b.Alloc(kernels.F32, 1<<40, 1<<20)), "exceeds the"},
		{"size", second(b.FromHost(kernels.F16, 2, 3, make([]byte, 11))), "ref: FromHost: F16(2, 3) needs 12 bytes, got 11"},
		{"kv type", second(b.AllocKV(kernels.KVSpec{NumLayers: 1, NumBlocks: 1, BlockSize: 1, NumKVHeads: 1, HeadDim: 32, DType: kernels.Q8_0})), "cache type Q8_0"},
		{"kv size", second(b.AllocKV(kernels.KVSpec{NumLayers: 1 << 20, NumBlocks: 1 << 20, BlockSize: 16, NumKVHeads: 8, HeadDim: 128, DType: kernels.F16})), "exceeds"},
		{"upload", b.Upload(tensor(t, b, 1, 2), make([]byte, 4)), "ref: Upload: F32(1, 2) holds 8 bytes, source has 4"},
		{"foreign", b.Download(make([]byte, 4), kernels.Tensor{DType: kernels.F32, Rows: 1, Cols: 1, Buf: otherBuf{}}), "is not a ref tensor"},
	}
	for _, c := range cases {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.name, c.err, c.want)
		}
	}
}

func second[T any](_ T, err error) error { return err }
