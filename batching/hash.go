package batching

// hashRoot is the parent hash of every sequence's first block.
const hashRoot uint64 = 0x9e3779b97f4a7c15

// chainHash identifies a full block by its parent block's hash, the salt
// and its token ids, so equal hashes mean equal prefixes (up to
// collisions). It is FNV-1a over 64-bit words followed by the splitmix64
// finalizer: fast, deterministic across runs (hashes can be logged and
// compared), and collisions are harmless because a hit is only taken when
// the block's stored tokens also match.
func chainHash(parent, salt uint64, tokens []int32) uint64 {
	const prime = 0x100000001b3
	h := uint64(0xcbf29ce484222325)
	h = (h ^ parent) * prime
	h = (h ^ salt) * prime
	for _, t := range tokens {
		h = (h ^ uint64(uint32(t))) * prime
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}
