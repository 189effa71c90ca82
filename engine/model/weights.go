package model

import (
	"fmt"

	"spillway/kernels"
)

// layer holds one transformer block's weights on the backend.
type layer struct {
	attnNorm, wq, wk, wv, wo kernels.Tensor
	bq, bk, bv               *kernels.Tensor // Qwen2 biases; nil for llama
	ffnNorm, wGate, wUp      kernels.Tensor
	wDown                    kernels.Tensor
}

// binder uploads the description's tensors to a backend, checking each
// against the shape the config implies so a wrong file fails at load with
// the tensor's name rather than mid-forward.
type binder struct {
	d  *Description
	be kernels.Backend
}

func (b *binder) bind(name string, rows, cols int) (kernels.Tensor, error) {
	t := b.d.Tensor(name)
	if t == nil {
		return kernels.Tensor{}, fmt.Errorf("model: missing tensor %s", name)
	}
	if t.Rows != rows || t.Cols != cols {
		return kernels.Tensor{}, fmt.Errorf("model: tensor %s has shape (%d, %d), want (%d, %d)", name, t.Rows, t.Cols, rows, cols)
	}
	kt, err := b.be.FromHost(t.DType, t.Rows, t.Cols, t.Data)
	if err != nil {
		return kernels.Tensor{}, fmt.Errorf("model: uploading %s: %w", name, err)
	}
	return kt, nil
}

// bindF32 requires an F32 tensor: norms and biases are applied in F32.
func (b *binder) bindF32(name string, rows, cols int) (kernels.Tensor, error) {
	if t := b.d.Tensor(name); t != nil && t.DType != kernels.F32 {
		return kernels.Tensor{}, fmt.Errorf("model: tensor %s is %s, norms and biases must be F32", name, t.DType)
	}
	return b.bind(name, rows, cols)
}

func (b *binder) optionalBias(name string, n int) (*kernels.Tensor, error) {
	if b.d.Tensor(name) == nil {
		return nil, nil
	}
	t, err := b.bindF32(name, 1, n)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

func (b *binder) layer(i int, c *Config) (layer, error) {
	var L layer
	var err error
	p := func(s string) string { return fmt.Sprintf("blk.%d.%s", i, s) }
	q, kv := c.NumHeads*c.HeadDim, c.NumKVHeads*c.HeadDim
	steps := []struct {
		dst        *kernels.Tensor
		name       string
		rows, cols int
		f32        bool
	}{
		{&L.attnNorm, "attn_norm.weight", 1, c.Dim, true},
		{&L.wq, "attn_q.weight", q, c.Dim, false},
		{&L.wk, "attn_k.weight", kv, c.Dim, false},
		{&L.wv, "attn_v.weight", kv, c.Dim, false},
		{&L.wo, "attn_output.weight", c.Dim, q, false},
		{&L.ffnNorm, "ffn_norm.weight", 1, c.Dim, true},
		{&L.wGate, "ffn_gate.weight", c.FFNDim, c.Dim, false},
		{&L.wUp, "ffn_up.weight", c.FFNDim, c.Dim, false},
		{&L.wDown, "ffn_down.weight", c.Dim, c.FFNDim, false},
	}
	for _, s := range steps {
		if s.f32 {
			*s.dst, err = b.bindF32(p(s.name), s.rows, s.cols)
		} else {
			*s.dst, err = b.bind(p(s.name), s.rows, s.cols)
		}
		if err != nil {
			return L, err
		}
	}
	if L.bq, err = b.optionalBias(p("attn_q.bias"), q); err != nil {
		return L, err
	}
	if L.bk, err = b.optionalBias(p("attn_k.bias"), kv); err != nil {
		return L, err
	}
	L.bv, err = b.optionalBias(p("attn_v.bias"), kv)
	return L, err
}
