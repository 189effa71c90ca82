package scheduler

// Step runs one iteration: drop cancelled requests, schedule running
// sequences (decodes and unfinished prefill chunks) then admit waiting
// ones under the token budget, execute, and process the sampled tokens.
// Exported so tests can drive the scheduler without Run's goroutine.
func (s *Scheduler) Step() {
	start := s.o.Now()
	defer func() { s.ctr.stepTime += s.o.Now().Sub(start) }()
	s.admitSubmissions()
	s.reapCancelled()
	s.batch.Reset()
	budget := s.o.MaxNumBatchedTokens
	budget = s.scheduleRunning(budget)
	s.scheduleWaiting(budget)
	if s.batch.NumTokens() == 0 {
		s.publish()
		return
	}
	t0 := s.o.Now()
	need := len(s.batch.LogitRows) * s.exec.VocabSize()
	if cap(s.logits) < need {
		s.logits = make([]float32, need)
	}
	logits := s.logits[:need]
	err := s.exec.Execute(s.batch, logits)
	execTime := s.o.Now().Sub(t0)
	s.ctr.execTime += execTime
	s.ctr.observeStep(s.batch, execTime)
	if err != nil {
		s.failBatch(err)
		s.publish()
		return
	}
	s.commit()
	s.sampleAll(logits)
	s.publish()
}

// reapCancelled aborts the requests whose context ended.
func (s *Scheduler) reapCancelled() {
	dead := func(st *seqState) bool { return st.req.ctx.Err() != nil }
	var keep []*seqState
	for _, st := range s.running {
		if dead(st) {
			s.finish(st, FinishAbort, nil)
		} else {
			keep = append(keep, st)
		}
	}
	s.running = keep
	var gone []*seqState
	s.waiting.removeIf(func(st *seqState) bool {
		if dead(st) {
			gone = append(gone, st)
			return true
		}
		return false
	})
	for _, st := range gone {
		s.finish(st, FinishAbort, nil)
	}
}

// scheduleRunning gives every running sequence its pending tokens in
// (priority, admission) order. When one needs a KV block and none is free,
// the lowest-priority, most recently admitted sequence not yet in this
// step's batch is preempted (possibly the one asking).
func (s *Scheduler) scheduleRunning(budget int) int {
	s.sortRunning()
	end := len(s.running) // running[end:] were preempted this step
	for i := 0; i < end && budget > 0; i++ {
		st := s.running[i]
		for !s.bm.CanAppend(st.seq) && end > i {
			end--
			s.preempt(s.running[end])
		}
		if end <= i {
			break
		}
		if err := s.bm.Append(st.seq); err != nil {
			s.finish(st, FinishError, err)
			continue
		}
		n := min(st.seq.NumPending(), budget)
		if n == 0 {
			continue
		}
		if err := s.batch.Add(st.seq, n); err != nil {
			s.finish(st, FinishError, err)
			continue
		}
		budget -= n
	}
	clear(s.running[end:])
	s.running = s.running[:end]
	s.compactRunning()
	return budget
}

// sortRunning orders the running set by (priority, admission): insertion
// sort, since it is nearly sorted from the previous step.
func (s *Scheduler) sortRunning() {
	r := s.running
	for i := 1; i < len(r); i++ {
		for j := i; j > 0 && runsBefore(r[j], r[j-1]); j-- {
			r[j], r[j-1] = r[j-1], r[j]
		}
	}
}

func runsBefore(a, b *seqState) bool {
	if a.req.r.Priority != b.req.r.Priority {
		return a.req.r.Priority < b.req.r.Priority
	}
	return a.admitted < b.admitted
}

// scheduleWaiting admits waiting sequences in priority order while tokens,
// sequence slots and KV blocks remain; the head of the queue blocks the
// rest (no overtaking), as in vLLM.
func (s *Scheduler) scheduleWaiting(budget int) {
	if s.o.StaticBatching && len(s.running) > 0 {
		return
	}
	for budget > 0 && s.waiting.len() > 0 && len(s.running) < s.o.MaxNumSeqs {
		st := s.waiting.peek()
		if !s.bm.CanAllocate(st.seq) {
			break
		}
		s.waiting.pop()
		if err := s.bm.Allocate(st.seq); err != nil {
			s.finish(st, FinishError, err)
			continue
		}
		s.markRunning(st)
		n := min(st.seq.NumPending(), budget)
		if err := s.batch.Add(st.seq, n); err != nil {
			s.finish(st, FinishError, err)
			continue
		}
		budget -= n
	}
}

// markRunning moves an allocated sequence into the running set.
func (s *Scheduler) markRunning(st *seqState) {
	if st.req.started.IsZero() {
		st.req.started = s.o.Now()
		st.req.cached = st.seq.NumCached
	}
	st.admitted = s.nextAdm
	s.nextAdm++
	st.state = stRunning
	s.running = append(s.running, st)
	s.byID[st.seq.ID] = st
}

// preempt frees a running sequence's blocks and sends it back to wait; its
// tokens stay and are recomputed on readmission (prefix hits permitting).
func (s *Scheduler) preempt(st *seqState) {
	s.bm.Free(st.seq)
	delete(s.byID, st.seq.ID)
	st.state = stWaiting
	s.ctr.preemptions++
	s.waiting.push(st)
}

// compactRunning drops finished sequences from the running list.
func (s *Scheduler) compactRunning() {
	keep := s.running[:0]
	for _, st := range s.running {
		if st.state == stRunning {
			keep = append(keep, st)
		}
	}
	clear(s.running[len(keep):])
	s.running = keep
}

// commit records the computed tokens of every sequence in the batch.
func (s *Scheduler) commit() {
	b := s.batch
	for i, id := range b.SeqIDs {
		st := s.byID[id]
		n := int(b.QueryStart[i+1] - b.QueryStart[i])
		if err := s.bm.Commit(st.seq, n); err != nil {
			s.finish(st, FinishError, err)
		}
	}
}

// failBatch ends every sequence of a failed step with the error.
func (s *Scheduler) failBatch(err error) {
	for _, id := range s.batch.SeqIDs {
		if st := s.byID[id]; st != nil {
			s.finish(st, FinishError, err)
		}
	}
	s.compactRunning()
}
