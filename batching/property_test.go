package batching

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// chooser picks numbers for the random-operation world: from a PRNG in the
// property test, from the fuzzer's bytes in the fuzz target.
type chooser interface {
	intn(n int) int // in [0, n); n > 0
}

type randChooser struct{ r *rand.Rand }

func (c randChooser) intn(n int) int { return c.r.IntN(n) }

type byteChooser struct{ b []byte }

func (c *byteChooser) intn(n int) int {
	if len(c.b) == 0 {
		return 0
	}
	v := int(c.b[0])
	c.b = c.b[1:]
	return v % n
}

// world drives a BlockManager the way a scheduler would and keeps a shadow
// of the KV cache: kv[slot] is a hash of the whole prefix whose last token
// was stored there, which is what real keys and values depend on.
type world struct {
	t       testing.TB
	c       chooser
	m       *BlockManager
	live    []*Sequence // holding blocks
	waiting []*Sequence // preempted, holding none
	nextID  uint64
	kv      []uint64 // (NumBlocks·BlockSize,) shadow cache; 0 = never written
	stems   [][]int32
	batch   *Batch
	ops     map[string]int
}

func newWorld(t testing.TB, c chooser, cfg Config) *world {
	m, err := NewBlockManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, c: c, m: m, kv: make([]uint64, m.NumBlocks()*m.BlockSize()),
		batch: NewBatch(m.BlockSize()), ops: map[string]int{}}
	// Shared stems make prefix hits common; a 4-token vocabulary makes
	// coincidental equal blocks common too.
	for _, n := range []int{3, 9, 17, 33} {
		stem := make([]int32, n)
		for i := range stem {
			stem[i] = int32(c.intn(4))
		}
		w.stems = append(w.stems, stem)
	}
	return w
}

// prefixHash is the shadow cache's value for the last token of toks.
func prefixHash(toks []int32) uint64 {
	h := uint64(1469598103934665603)
	for _, t := range toks {
		h = prefixStep(h, t)
	}
	return h
}

func prefixStep(h uint64, tok int32) uint64 { return (h^uint64(uint32(tok)))*1099511628211 | 1 }

func (w *world) randomTokens(n int) []int32 {
	s := make([]int32, n)
	for i := range s {
		s[i] = int32(w.c.intn(4))
	}
	return s
}

// step runs one random operation and then checks every invariant.
func (w *world) step() {
	switch op := w.c.intn(10); {
	case op < 3:
		w.admit()
	case op < 7:
		w.compute()
	case op == 7:
		w.finish(w.c.intn(2) == 0)
	case op == 8:
		w.fork()
	default:
		w.ops["evict"]++
		w.m.EvictCached(w.c.intn(4))
	}
	checkInvariants(w.t, w.m, w.live, w.kv)
}

// admit allocates a new sequence, or a preempted one again.
func (w *world) admit() {
	var seq *Sequence
	if len(w.waiting) > 0 && w.c.intn(2) == 0 {
		seq = w.waiting[0]
		w.waiting = w.waiting[1:]
	} else {
		prompt := append(slices.Clone(w.stems[w.c.intn(len(w.stems))]), w.randomTokens(w.c.intn(12))...)
		if len(prompt) == 0 {
			prompt = []int32{1}
		}
		w.nextID++
		seq = NewSequence(w.nextID, prompt, []uint64{0, TenantSalt("b")}[w.c.intn(2)], nil)
	}
	can := w.m.CanAllocate(seq)
	before := w.m.Stats()
	err := w.m.Allocate(seq)
	if can != (err == nil) {
		w.t.Fatalf("CanAllocate = %v but Allocate: %v", can, err)
	}
	if err != nil {
		if !errors.Is(err, ErrNoFreeBlocks) || w.m.Stats() != before || len(seq.BlockTable) != 0 {
			w.t.Fatalf("failed Allocate changed state or said %v", err)
		}
		w.waiting = append(w.waiting, seq)
		return
	}
	w.ops["allocate"]++
	if seq.NumCached > 0 {
		w.ops["allocate with hits"]++
	}
	w.live = append(w.live, seq)
}

// compute schedules chunks of up to three sequences in one Batch, writes
// the shadow cache through the batch's slots (as StoreKV would), commits,
// and lets finished prefills or decodes sample a token.
func (w *world) compute() {
	w.batch.Reset()
	var picked []*Sequence
	var sizes []int
	for range 3 {
		if len(w.live) == 0 {
			break
		}
		seq := w.live[w.c.intn(len(w.live))]
		if seq.NumPending() == 0 || slices.Contains(picked, seq) {
			continue
		}
		n := 1 + w.c.intn(seq.NumPending())
		if err := w.batch.Add(seq, n); err != nil {
			w.t.Fatal(err)
		}
		picked, sizes = append(picked, seq), append(sizes, n)
	}
	for i, seq := range picked {
		for r := w.batch.QueryStart[i]; r < w.batch.QueryStart[i+1]; r++ {
			p := w.batch.Positions[r]
			w.kv[w.batch.Slots[r]] = prefixHash(seq.Tokens[:p+1])
		}
		if err := w.m.Commit(seq, sizes[i]); err != nil {
			w.t.Fatal(err)
		}
	}
	w.ops["compute"]++
	for _, seq := range picked {
		if seq.NumPending() == 0 && w.c.intn(4) != 0 {
			seq.AppendToken(int32(w.c.intn(4)))
			w.grow(seq)
		}
	}
}

// grow gives seq a block for its new token, or preempts it.
func (w *world) grow(seq *Sequence) {
	can := w.m.CanAppend(seq)
	if err := w.m.Append(seq); can != (err == nil) {
		w.t.Fatalf("CanAppend = %v but Append: %v", can, err)
	}
	if can {
		w.ops["append"]++
		return
	}
	w.ops["preempt"]++
	w.remove(seq)
	w.m.Free(seq)
	w.waiting = append(w.waiting, seq)
}

func (w *world) remove(seq *Sequence) {
	w.live = slices.DeleteFunc(w.live, func(s *Sequence) bool { return s == seq })
}

// finish frees a random live sequence; preempted ones come back later.
func (w *world) finish(preempt bool) {
	if len(w.live) == 0 {
		return
	}
	seq := w.live[w.c.intn(len(w.live))]
	w.remove(seq)
	w.m.Free(seq)
	if preempt {
		w.waiting = append(w.waiting, seq)
	}
	w.ops["free"]++
}

// fork makes a child of a live sequence from a prefix of its tokens, plus
// sometimes a different last token (another choice's first sample).
func (w *world) fork() {
	if len(w.live) == 0 {
		return
	}
	parent := w.live[w.c.intn(len(w.live))]
	toks := slices.Clone(parent.Tokens[:1+w.c.intn(len(parent.Tokens))])
	if w.c.intn(2) == 0 {
		toks = append(toks, int32(w.c.intn(4)))
	}
	w.nextID++
	child := NewSequence(w.nextID, toks, parent.Salt, nil)
	can := w.m.CanFork(parent, child)
	if err := w.m.Fork(parent, child); can != (err == nil) {
		w.t.Fatalf("CanFork = %v but Fork: %v", can, err)
	}
	if can {
		w.ops["fork"]++
		w.live = append(w.live, child)
	}
}

// TestProperty runs tens of thousands of random operations per
// configuration, checking every invariant after each.
func TestProperty(t *testing.T) {
	configs := map[string]Config{
		"bs4 tight":    {NumBlocks: 24, BlockSize: 4},
		"bs4 roomy":    {NumBlocks: 96, BlockSize: 4},
		"bs1":          {NumBlocks: 64, BlockSize: 1},
		"bs16":         {NumBlocks: 12, BlockSize: 16},
		"no caching":   {NumBlocks: 32, BlockSize: 4, DisablePrefixCaching: true},
		"single block": {NumBlocks: 1, BlockSize: 8},
	}
	for name, cfg := range configs {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, randChooser{rand.New(rand.NewPCG(11, uint64(cfg.NumBlocks)))}, cfg)
			for range 20000 {
				w.step()
			}
			st := w.m.Stats()
			t.Logf("ops %v; hits %d of %d tokens, %d evictions", w.ops, st.HitTokens, st.QueryTokens, st.Evictions)
			for _, op := range []string{"allocate", "compute", "append", "free", "evict"} {
				if w.ops[op] == 0 {
					t.Errorf("operation %q never ran", op)
				}
			}
			if !cfg.DisablePrefixCaching && cfg.NumBlocks > 1 && st.HitTokens == 0 {
				t.Error("no prefix-cache hit in 20000 operations")
			}
			for _, seq := range w.live {
				w.m.Free(seq)
			}
			checkInvariants(t, w.m, nil, w.kv)
			if st := w.m.Stats(); st.Used != 0 {
				t.Fatalf("%d blocks still used after freeing every sequence", st.Used)
			}
		})
	}
}

// FuzzBlockManager runs the same world with operations chosen by the
// fuzzer's bytes.
func FuzzBlockManager(f *testing.F) {
	f.Add([]byte{0, 0, 5, 5, 5, 8, 1, 2, 3, 9, 7, 7, 0, 4})
	f.Add([]byte("allocate, compute, fork, free, evict: every op from bytes"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		cfg := Config{NumBlocks: 1 + int(data[0]%32), BlockSize: 1 + int(data[1]%8), DisablePrefixCaching: data[1] >= 128}
		c := &byteChooser{b: data[2:]}
		w := newWorld(t, c, cfg)
		for len(c.b) > 0 {
			w.step()
		}
	})
}
