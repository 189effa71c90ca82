package batching

import "hash/fnv"

// Status is where a sequence is in its life (nano-vllm's SequenceStatus).
type Status uint8

const (
	// Waiting: not admitted, or preempted; holds no blocks.
	Waiting Status = iota
	// Running: admitted; its block table covers all its tokens.
	Running
	// Finished: done; its blocks have been freed.
	Finished
)

func (s Status) String() string {
	switch s {
	case Waiting:
		return "waiting"
	case Running:
		return "running"
	case Finished:
		return "finished"
	}
	return "unknown"
}

// Sequence is one token stream the scheduler drives: a prompt and the
// tokens generated after it, plus what the KV cache knows about them.
//
// Tokens[:NumComputed] have their keys and values in the cache, in the
// slots BlockTable maps them to. Tokens[NumComputed:] are pending: the
// next steps compute them (the rest of a prompt, or the last sampled
// token), and the caller may still replace them.
type Sequence struct {
	ID     uint64
	Status Status
	Tokens []int32 // (len,) prompt then generated tokens
	// NumPrompt is the prompt length: Tokens[:NumPrompt] is the prompt.
	NumPrompt int
	// NumComputed is vLLM's num_computed_tokens.
	NumComputed int
	// NumCached is vLLM's num_cached_tokens: how many of the tokens were
	// found in the prefix cache (or shared by Fork) at the last admission,
	// i.e. computed without running the model.
	NumCached int
	// BlockTable lists the KV blocks holding the sequence, in order: token
	// position p lives in slot BlockTable[p/BlockSize]·BlockSize + p%BlockSize.
	BlockTable []int32
	// Salt separates prefix caches: blocks are shared only between
	// sequences with the same salt (TenantSalt of the tenant).
	Salt uint64
	// Sampling is the engine's per-sequence sampling state (parameters or
	// a sampler). batching never looks inside; Batch carries it along.
	Sampling any
}

// NewSequence returns a waiting sequence holding a copy of prompt.
func NewSequence(id uint64, prompt []int32, salt uint64, sampling any) *Sequence {
	return &Sequence{
		ID:        id,
		Tokens:    append([]int32(nil), prompt...),
		NumPrompt: len(prompt),
		Salt:      salt,
		Sampling:  sampling,
	}
}

// Len is the number of tokens, prompt included.
func (s *Sequence) Len() int { return len(s.Tokens) }

// NumGenerated is the number of tokens after the prompt.
func (s *Sequence) NumGenerated() int { return len(s.Tokens) - s.NumPrompt }

// Generated returns the tokens after the prompt (a view, not a copy).
func (s *Sequence) Generated() []int32 { return s.Tokens[s.NumPrompt:] }

// NumPending is the number of tokens not yet in the KV cache.
func (s *Sequence) NumPending() int { return len(s.Tokens) - s.NumComputed }

// AppendToken adds a sampled token; it becomes pending. Call
// BlockManager.CanAppend/Append before the step that computes it.
func (s *Sequence) AppendToken(tok int32) { s.Tokens = append(s.Tokens, tok) }

// TenantSalt derives a prefix-cache salt from a tenant name, so that
// tenants never share blocks and cannot probe each other's prompts by
// timing cache hits. The empty tenant has salt 0.
func TenantSalt(tenant string) uint64 {
	if tenant == "" {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(tenant))
	return h.Sum64() | 1 // never 0, the anonymous tenant's salt
}

// blocksFor is the number of blocks of size bs that n tokens occupy.
func blocksFor(n, bs int) int { return (n + bs - 1) / bs }
