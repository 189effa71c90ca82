//go:build cgo

package cuda

import (
	"bytes"
	"errors"
	"fmt"
	"unsafe"
)

// Staging moves the small host arrays of an op (token ids, positions, KV
// slots, attention tiles and block tables) to the device without waiting
// for it: the bytes go into pinned memory and an asynchronous copy on the
// stream puts them in front of the kernel that reads them.
//
// The pinned area has two halves used in turn. Leaving a half records an
// event; coming back to it waits for that event, by which time the copies
// out of it (issued a whole half earlier) have long finished, so the wait
// is nearly always free. Identical arrays staged again (the attention
// metadata of every layer of a step, the positions of q and k) reuse the
// earlier copy while its half has not been rewritten.

// stageKind names what is staged, so that equal bytes of different
// meaning are never shared.
type stageKind int

const (
	stIDs stageKind = iota
	stPos
	stInvFreq
	stSlots
	stAttn
)

const stageAlign = 16

type memoEntry struct {
	kind  stageKind
	data  []byte
	dev   uint64
	epoch uint64
}

type stager struct {
	g     *gpu
	host  unsafe.Pointer // pinned, 2·half bytes
	dev   uint64         // device mirror of host
	half  int
	cur   int // the half being filled
	off   int // next free byte of the current half
	epoch uint64
	ev    [2]unsafe.Pointer
	used  [2]bool // ev[i] has been recorded
	memo  []memoEntry
}

func newStager(g *gpu, half int) (*stager, error) {
	s := &stager{g: g, half: half}
	var err error
	if s.host, err = g.hostAlloc(2 * half); err != nil {
		return nil, err
	}
	if s.dev, err = g.alloc(2 * half); err != nil {
		g.hostFree(s.host)
		return nil, err
	}
	for i := range s.ev {
		if s.ev[i], err = g.eventCreate(false); err != nil {
			s.free()
			return nil, err
		}
	}
	return s, nil
}

func (s *stager) free() error {
	var errs []error
	for _, ev := range s.ev {
		if ev != nil {
			errs = append(errs, s.g.eventDestroy(ev))
		}
	}
	if s.dev != 0 {
		errs = append(errs, s.g.free(s.dev))
	}
	if s.host != nil {
		errs = append(errs, s.g.hostFree(s.host))
	}
	return errors.Join(errs...)
}

// put stages data (at most s.half bytes) and returns its device address.
func (s *stager) put(kind stageKind, data []byte) (uint64, error) {
	for _, m := range s.memo {
		if m.kind == kind && s.epoch-m.epoch <= 1 && bytes.Equal(m.data, data) {
			return m.dev, nil
		}
	}
	n := (len(data) + stageAlign - 1) &^ (stageAlign - 1)
	if s.off+n > s.half {
		if err := s.flip(); err != nil {
			return 0, err
		}
	}
	at := s.cur*s.half + s.off
	copy(hostBytes(unsafe.Add(s.host, at), len(data)), data)
	dev := s.dev + uint64(at)
	if err := s.g.htodAsync(dev, unsafe.Add(s.host, at), len(data)); err != nil {
		return 0, err
	}
	s.off += n
	if len(s.memo) == 8 {
		s.memo = s.memo[1:]
	}
	s.memo = append(s.memo, memoEntry{kind, bytes.Clone(data), dev, s.epoch})
	return dev, nil
}

// flip moves to the other half, first waiting until the copies out of it
// have finished.
func (s *stager) flip() error {
	if err := s.g.eventRecord(s.ev[s.cur]); err != nil {
		return err
	}
	s.used[s.cur] = true
	s.cur ^= 1
	s.off = 0
	s.epoch++
	if s.used[s.cur] {
		return s.g.eventSync(s.ev[s.cur])
	}
	return nil
}

// fillFunc writes an op's staged bytes into dst, which must be exactly the
// size it needs; it re-derives them from the op's host inputs, so that a
// graph replay can refresh them.
type fillFunc func(dst []byte) error

// stage runs fill into n bytes that reach the device, stream-ordered, and
// returns their device address. While a graph is being captured the bytes
// live in the graph's own pinned memory and fill is kept for replays.
func (b *Backend) stage(kind stageKind, n int, fill fillFunc) uint64 {
	if b.cap != nil {
		dev, err := b.cap.stage(b.g, kind, n, fill)
		if err != nil {
			panic(fmt.Sprintf("cuda: staging %d bytes for a captured graph: %v", n, err))
		}
		return dev
	}
	buf := make([]byte, n)
	if err := fill(buf); err != nil {
		panic(fmt.Sprintf("cuda: %v", err))
	}
	if n > b.st.half {
		// Rare (a batch of thousands of long sequences): a bigger area.
		if err := b.g.sync(); err != nil {
			b.fail(err)
		}
		b.fail(b.st.free())
		st, err := newStager(b.g, 1<<bitsLen(n))
		if err != nil {
			panic(fmt.Sprintf("cuda: staging area of %d bytes: %v", 2<<bitsLen(n), err))
		}
		b.st = st
	}
	dev, err := b.st.put(kind, buf)
	if err != nil {
		b.fail(err)
	}
	return dev
}

// bitsLen is the number of bits needed for n.
func bitsLen(n int) int {
	k := 0
	for ; n > 0; n >>= 1 {
		k++
	}
	return k
}
