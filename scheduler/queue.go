package scheduler

import "sort"

// waitQueue holds waiting sequences ordered by (priority, arrival): lower
// priority values first, as in vLLM, then first come first served. A
// preempted sequence keeps its arrival number, so it goes back ahead of
// everything that arrived after it.
type waitQueue struct {
	items []*seqState
}

func (q *waitQueue) less(a, b *seqState) bool {
	if a.req.r.Priority != b.req.r.Priority {
		return a.req.r.Priority < b.req.r.Priority
	}
	if a.req.arrival != b.req.arrival {
		return a.req.arrival < b.req.arrival
	}
	return a.choice < b.choice
}

func (q *waitQueue) push(s *seqState) {
	i := sort.Search(len(q.items), func(i int) bool { return q.less(s, q.items[i]) })
	q.items = append(q.items, nil)
	copy(q.items[i+1:], q.items[i:])
	q.items[i] = s
}

func (q *waitQueue) len() int { return len(q.items) }

func (q *waitQueue) peek() *seqState { return q.items[0] }

func (q *waitQueue) pop() *seqState {
	s := q.items[0]
	q.items[0] = nil
	q.items = q.items[1:]
	return s
}

// removeIf drops the sequences f selects, keeping the order.
func (q *waitQueue) removeIf(f func(*seqState) bool) {
	kept := q.items[:0]
	for _, s := range q.items {
		if !f(s) {
			kept = append(kept, s)
		}
	}
	clear(q.items[len(kept):])
	q.items = kept
}
