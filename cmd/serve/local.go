package main

import (
	"context"

	"spillway/batching"
	"spillway/engine"
	"spillway/engine/tokenizer"
	"spillway/scheduler"
)

// schedOptions are the serve flags that shape the scheduler. The KV pool
// itself (--kv-cache-memory, --block-size) is sized by engine.New; the
// block manager mirrors it.
type schedOptions struct {
	MaxNumSeqs          int
	MaxNumBatchedTokens int
	MaxQueue            int
	EnablePrefixCaching bool
	StaticBatching      bool
}

// localGenerator serves a model from this machine: the continuous-batching
// scheduler over the engine, stepped by its own goroutine.
type localGenerator struct {
	*scheduler.Scheduler
	eng    *engine.Engine
	cancel context.CancelFunc
}

// newLocalGenerator starts the scheduler loop over eng; Close stops it.
func newLocalGenerator(eng *engine.Engine, o schedOptions) (*localGenerator, error) {
	spec := eng.KV.Spec
	s, err := scheduler.New(eng, tokVocab{eng.Desc.Tokenizer}, scheduler.Options{
		MaxNumSeqs:          o.MaxNumSeqs,
		MaxNumBatchedTokens: min(o.MaxNumBatchedTokens, eng.Model.MaxTokens()),
		MaxQueue:            o.MaxQueue,
		ContextLen:          eng.Model.Cfg.ContextLen,
		StaticBatching:      o.StaticBatching,
		Blocks: batching.Config{NumBlocks: eng.NumBlocks(), BlockSize: spec.BlockSize,
			DisablePrefixCaching: !o.EnablePrefixCaching},
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &localGenerator{Scheduler: s, eng: eng, cancel: cancel}
	go s.Run(ctx)
	return g, nil
}

// Close aborts in-flight requests, stops the loop and frees the engine.
func (g *localGenerator) Close() error {
	g.Scheduler.Close()
	g.cancel()
	<-g.Scheduler.Done()
	return g.eng.Close()
}

// tokVocab adapts the tokenizer to what the scheduler needs.
type tokVocab struct{ t *tokenizer.Tokenizer }

func (v tokVocab) NewDecoder(prompt []int32) scheduler.Decoder { return v.t.NewDetokenizer(prompt) }
func (v tokVocab) IsEOG(id int32) bool                         { return v.t.IsEOG(id) }
