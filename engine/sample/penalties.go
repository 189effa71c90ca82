package sample

import "slices"

// penalties holds what the repetition, presence and frequency penalties
// need: the distinct tokens of prompt+output and the output counts. Both
// are kept sparse (a sequence touches a few thousand ids, not the whole
// vocabulary) in first-seen order, so applying them is O(distinct tokens)
// and visits ids in the same order on every run.
type penalties struct {
	rep        float32 // 1 = off
	pres, freq float32 // 0 = off

	seen     map[int32]struct{} // prompt ∪ output, when rep != 1
	seenList []int32            // the keys of seen, first-seen order

	outIndex map[int32]int32 // output token → index into outIDs/outCount
	outIDs   []int32         // distinct output tokens
	outCount []int32         // (len(outIDs),) occurrences of each
}

func newPenalties(p *Params, prompt []int32) penalties {
	pen := penalties{rep: p.RepetitionPenalty, pres: p.PresencePenalty, freq: p.FrequencyPenalty}
	// Unvalidated values are switched off rather than allowed to turn
	// logits into NaN; 0 is also the zero-value Params' repetition penalty.
	if !(pen.rep > 0) || !finite(pen.rep) {
		pen.rep = 1
	}
	if !finite(pen.pres) {
		pen.pres = 0
	}
	if !finite(pen.freq) {
		pen.freq = 0
	}
	if pen.rep != 1 {
		pen.seen = make(map[int32]struct{})
		for _, id := range prompt {
			pen.see(id)
		}
	}
	if pen.pres != 0 || pen.freq != 0 {
		pen.outIndex = make(map[int32]int32)
	}
	return pen
}

func (p *penalties) see(id int32) {
	if _, ok := p.seen[id]; !ok {
		p.seen[id] = struct{}{}
		p.seenList = append(p.seenList, id)
	}
}

// record notes a generated token.
func (p *penalties) record(id int32) {
	if p.seen != nil {
		p.see(id)
	}
	if p.outIndex == nil {
		return
	}
	i, ok := p.outIndex[id]
	if !ok {
		i = int32(len(p.outIDs))
		p.outIndex[id] = i
		p.outIDs = append(p.outIDs, id)
		p.outCount = append(p.outCount, 0)
	}
	p.outCount[i]++
}

// apply penalizes logits (V,) in place, in vLLM's order: repetition, then
// frequency, then presence. Ids outside the vocabulary (a prompt from
// another tokenizer) are ignored rather than trusted.
func (p *penalties) apply(logits []float32) {
	n := int32(len(logits))
	if p.rep != 1 {
		for _, id := range p.seenList {
			if id < 0 || id >= n {
				continue
			}
			// Dividing a positive logit and multiplying a negative one both
			// make the token less likely (for rep > 1) whatever its sign.
			if l := logits[id]; l > 0 {
				logits[id] = l / p.rep
			} else {
				logits[id] = l * p.rep
			}
		}
	}
	for i, id := range p.outIDs {
		if id < 0 || id >= n {
			continue
		}
		// Two subtractions, not one, to round exactly as vLLM does.
		logits[id] -= p.freq * float32(p.outCount[i])
		logits[id] -= p.pres
	}
}

// bias is the logit bias as parallel slices sorted by id, so applying it
// neither iterates a map nor depends on map order.
type bias struct {
	ids  []int32
	vals []float32
}

func newBias(m map[int32]float32) bias {
	var b bias
	for id, v := range m {
		if finite(v) { // unvalidated NaN or ±Inf: ignored
			b.ids = append(b.ids, id)
		}
	}
	slices.Sort(b.ids)
	for _, id := range b.ids {
		b.vals = append(b.vals, m[id])
	}
	return b
}

func (b *bias) apply(logits []float32) {
	n := int32(len(logits))
	for i, id := range b.ids {
		if id >= 0 && id < n {
			logits[id] += b.vals[i]
		}
	}
}
