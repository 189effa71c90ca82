package cuda

import "math"

// argv holds kernel parameters, one per 8-byte slot in declaration order:
// device pointers whole, 32-bit ints and floats in the low half (the
// kernel reads 4 bytes at the slot's address; the host is little-endian).
type argv struct {
	v [32]uint64
	n int
}

func (a *argv) ptr(p uint64) *argv {
	a.v[a.n] = p
	a.n++
	return a
}

func (a *argv) i32(x int) *argv {
	if x < math.MinInt32 || x > math.MaxInt32 {
		panic("cuda: kernel argument overflows int32")
	}
	a.v[a.n] = uint64(uint32(int32(x)))
	a.n++
	return a
}

func (a *argv) i64(x int) *argv {
	a.v[a.n] = uint64(int64(x))
	a.n++
	return a
}

func (a *argv) f32(f float32) *argv {
	a.v[a.n] = uint64(math.Float32bits(f))
	a.n++
	return a
}

// gridFor is the block count for n independent elements at threads per
// block, capped for grid-stride loops (a few waves of the device).
func gridFor(n int64, threads, sms int) int {
	b := (n + int64(threads) - 1) / int64(threads)
	if lim := int64(max(sms, 1) * 16); b > lim {
		b = lim
	}
	return int(max(b, 1))
}
