package main

import (
	"flag"
	"fmt"

	"spillway/engine"
	"spillway/engine/model"
)

// engineFlags are the flags every command that runs a model shares.
type engineFlags struct {
	model     string
	device    string
	dtype     string
	threads   int
	maxTokens int
	eager     bool
	kvTokens  int // tokens the KV pool must hold at once; 0 = one full context
}

func (e *engineFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&e.model, "model", "", "GGUF file or Hugging Face model directory")
	fs.StringVar(&e.device, "device", "auto", "compute backend: auto, cpu, ref (pure Go), cuda or cuda:N")
	fs.StringVar(&e.dtype, "dtype", "auto", "activation type on GPU backends: auto, float16, bfloat16")
	fs.IntVar(&e.threads, "threads", 0, "CPU threads (0 = all cores)")
	fs.IntVar(&e.maxTokens, "max-num-batched-tokens", 512, "tokens per forward step")
	fs.BoolVar(&e.eager, "enforce-eager", false, "on a GPU, run decode steps op by op instead of replaying them as CUDA graphs")
}

// open loads the model and binds it to the chosen backend.
func (e *engineFlags) open() (*engine.Engine, error) {
	if e.model == "" {
		return nil, fmt.Errorf("--model is required")
	}
	act, err := engine.ParseActDType(e.dtype)
	if err != nil {
		return nil, err
	}
	d, err := model.Load(e.model)
	if err != nil {
		return nil, err
	}
	o := engine.Options{Backend: e.device, ActDType: act, Threads: e.threads, MaxTokens: e.maxTokens,
		EnforceEager: e.eager}
	if c := d.Config; e.kvTokens > c.ContextLen {
		// F16 K and V rows, plus four blocks of room for rounding and the
		// graphs' scratch block.
		perTok := int64(c.NumLayers) * int64(c.NumKVHeads) * int64(c.HeadDim) * 2 * 2
		o.KVCacheMemory = int64(e.kvTokens+64) * perTok
	}
	eng, err := engine.New(d, o)
	if err != nil {
		d.Close()
		return nil, err
	}
	return eng, nil
}
