package scheduler

import (
	"time"

	"spillway/engine/sample"
)

// Request is one generation request as the API hands it to the scheduler:
// already templated and tokenized, parameters validated.
type Request struct {
	ID          string
	Prompt      []int32
	Sampling    sample.Params
	MaxTokens   int      // new tokens per choice; > 0
	StopStrings []string // generation ends before the first occurrence
	StopTokens  []int32  // generation ends at these ids (the id is not emitted as text)
	IgnoreEOS   bool     // keep going past end-of-generation tokens (benchmarks)
	N           int      // independent choices sharing the prompt's KV blocks; 0 = 1
	Priority    int      // lower runs first (vLLM's convention); ties by arrival
	Tenant      string   // salts the prefix-cache hashes: tenants never share blocks
	Arrival     time.Time
}

// FinishReason says why a choice ended, with OpenAI's names.
type FinishReason string

const (
	FinishNone   FinishReason = ""
	FinishStop   FinishReason = "stop"   // EOS, a stop token or a stop string
	FinishLength FinishReason = "length" // max_tokens or the context length
	FinishAbort  FinishReason = "abort"  // cancelled: client gone, timeout, shutdown
	FinishError  FinishReason = "error"  // the engine failed; Err says why
)

// Event is one streamed update of one choice. Text is the new text since
// the previous event of the same choice (never splits a UTF-8 character).
type Event struct {
	Choice  int
	Token   int32 // -1 on events that carry no token (final flush, abort)
	Text    string
	Logprob *sample.Result // when the request asked for logprobs
	Finish  FinishReason
	Err     error
	Stats   *Stats // on the last event of the request (all choices finished)
}

// Stats describe one request after it finished, for usage and metrics.
type Stats struct {
	PromptTokens     int
	CompletionTokens int // summed over choices
	CachedTokens     int // prompt tokens served from the prefix cache
	QueueTime        time.Duration
	TTFT             time.Duration // arrival to first token
	E2E              time.Duration
}

// Snapshot is the scheduler's state for metrics and the spill decision.
// Counters are cumulative since start.
type Snapshot struct {
	Running            int     // sequences in the running set
	Waiting            int     // requests admitted but not yet running (incl. preempted)
	KVUsage            float64 // fraction of KV blocks in use, 0..1
	PrefixCacheQueries int64   // prompt tokens looked up in the prefix cache
	PrefixCacheHits    int64   // of which found cached
	Preemptions        int64
	PromptTokens       int64 // prompt tokens computed
	GenerationTokens   int64 // tokens generated
	Steps              int64
	StepSeconds        float64 // wall time inside Step, cumulative
	ExecSeconds        float64 // of which inside the executor (the forward pass)
	EstQueueWait       float64 // seconds a new request would wait, from measured rates
	Updated            time.Time
}
