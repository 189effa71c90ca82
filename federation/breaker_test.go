package federation

import (
	"errors"
	"testing"
	"time"
)

// step is one event in a breaker scenario: advance the clock, then make
// a call with the given outcome (or just check the state).
type step struct {
	advance time.Duration
	call    bool
	result  outcome
	check   bool // compare the state after the step with want
	want    BreakerState
	refused bool // Allow must refuse the call
}

func TestBreakerTransitions(t *testing.T) {
	cfg := BreakerConfig{Failures: 3, Window: 10 * time.Second, Cooldown: 5 * time.Second, Probes: 1}
	fail := step{call: true, result: outcomeFailure}
	ok := step{call: true, result: outcomeSuccess}
	with := func(s step, st BreakerState) step { s.want, s.check = st, true; return s }
	after := func(d time.Duration, s step) step { s.advance = d; return s }
	cases := []struct {
		name  string
		steps []step
	}{
		{"opens after N failures", []step{with(fail, BreakerClosed), with(fail, BreakerClosed), with(fail, BreakerOpen)}},
		{"successes do not hide failures in the window", []step{
			with(fail, BreakerClosed), with(ok, BreakerClosed), with(fail, BreakerClosed), with(ok, BreakerClosed), with(fail, BreakerOpen)}},
		{"failures outside the window are forgotten", []step{
			with(fail, BreakerClosed), with(fail, BreakerClosed), after(11*time.Second, with(fail, BreakerClosed)),
			with(fail, BreakerClosed), with(fail, BreakerOpen)}},
		{"open refuses until the cool-down", []step{
			fail, fail, with(fail, BreakerOpen),
			after(4*time.Second, with(step{call: true, refused: true}, BreakerOpen)),
			after(time.Second, with(step{}, BreakerHalfOpen))}},
		{"half-open probe success closes", []step{
			fail, fail, fail, after(5*time.Second, with(ok, BreakerClosed)), with(fail, BreakerClosed)}},
		{"half-open probe failure reopens for a full cool-down", []step{
			fail, fail, fail, after(5*time.Second, with(fail, BreakerOpen)),
			after(4*time.Second, with(step{}, BreakerOpen)), after(time.Second, with(step{}, BreakerHalfOpen))}},
		{"neutral outcomes count for nothing", []step{
			with(step{call: true, result: outcomeNeutral}, BreakerClosed), fail, fail,
			with(step{call: true, result: outcomeNeutral}, BreakerClosed)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			var transitions []BreakerState
			b := NewBreaker(cfg, clock, func(_, to BreakerState) { transitions = append(transitions, to) })
			for i, s := range tc.steps {
				clock.Advance(s.advance)
				if s.call {
					done, err := b.Allow()
					if s.refused != (err != nil) {
						t.Fatalf("step %d: Allow err = %v, refused want %v", i, err, s.refused)
					}
					if err == nil {
						done(s.result)
					}
				}
				if got := b.State(); s.check && got != s.want {
					t.Fatalf("step %d: state %v, want %v (transitions %v)", i, got, s.want, transitions)
				}
			}
		})
	}
}

// TestBreakerHalfOpenProbeLimit: only Probes calls pass while half-open.
func TestBreakerHalfOpenProbeLimit(t *testing.T) {
	clock := newFakeClock()
	b := NewBreaker(BreakerConfig{Failures: 1, Window: time.Second, Cooldown: time.Second, Probes: 2}, clock, nil)
	done, _ := b.Allow()
	done(outcomeFailure)
	clock.Advance(time.Second)
	d1, err1 := b.Allow()
	d2, err2 := b.Allow()
	_, err3 := b.Allow()
	if err1 != nil || err2 != nil || !errors.Is(err3, ErrBreakerOpen) {
		t.Fatalf("probe admissions: %v %v %v, want two admitted and the third refused", err1, err2, err3)
	}
	d1(outcomeNeutral) // frees a probe slot without deciding
	if _, err := b.Allow(); err != nil {
		t.Fatalf("slot freed by a neutral probe should admit: %v", err)
	}
	d2(outcomeSuccess)
	if b.State() != BreakerClosed {
		t.Fatalf("state %v after a successful probe", b.State())
	}
}

// TestBreakerThroughSpiller drives a provider's breaker with real HTTP
// failures: it opens within N failed requests, routing stops choosing
// the provider, calls are refused without reaching it, and after the
// cool-down one probe goes through and closes it.
func TestBreakerThroughSpiller(t *testing.T) {
	bad, good := newFake(t, wireOpenAI), newFake(t, wireOpenAI)
	for range 4 {
		bad.push(fault{kind: fkStatus, status: 500})
	}
	cfg := Config{
		Providers: []ProviderConfig{provCfg("bad", wireOpenAI, bad.url()), provCfg("good", wireOpenAI, good.url())},
		Routes:    []RouteConfig{{Model: "m", Policy: PolicyFailover, Targets: []Target{{Name: "bad"}, {Name: "good"}}}},
		Retry:     RetryConfig{MaxAttempts: 1},
	}
	env := newTestSpiller(t, cfg, Options{})
	call := Call{Tenant: "t", Decision: remote("m", "bad"), Req: chatReq("m", false)}
	for i := range 3 {
		if _, _, err := env.s.Complete(bg, call); err == nil {
			t.Fatalf("call %d succeeded against a failing upstream", i)
		}
	}
	if st, _ := env.s.BreakerState("bad"); st != BreakerOpen {
		t.Fatalf("after 3 failures breaker is %v, want open", st)
	}
	if _, _, err := env.s.Complete(bg, call); !errors.Is(err, ErrBreakerOpen) || bad.Calls() != 3 {
		t.Fatalf("open breaker: err %v, upstream calls %d; want refusal without a call", err, bad.Calls())
	}
	d, err := env.s.Route(RouteInput{Model: "m", Tenant: "t"})
	if err != nil || d.Targets[0] != "good" {
		t.Fatalf("route with bad open: %v %v, want good first", d.Targets, err)
	}
	env.clock.Advance(10 * time.Second)
	if st, _ := env.s.BreakerState("bad"); st != BreakerHalfOpen {
		t.Fatalf("after cool-down breaker is %v, want half-open", st)
	}
	// The probe fails (the fake's 4th scripted 500): open again.
	if _, _, err := env.s.Complete(bg, call); err == nil {
		t.Fatal("probe should have failed")
	}
	if st, _ := env.s.BreakerState("bad"); st != BreakerOpen {
		t.Fatalf("failed probe left breaker %v, want open", st)
	}
	env.clock.Advance(10 * time.Second)
	if _, _, err := env.s.Complete(bg, call); err != nil {
		t.Fatalf("healthy probe: %v", err)
	}
	if st, _ := env.s.BreakerState("bad"); st != BreakerClosed || bad.Calls() != 5 {
		t.Fatalf("after a good probe: %v with %d calls, want closed with 5", st, bad.Calls())
	}
}

// TestBreakerIgnoresClientErrors: a 400 is the request's fault.
func TestBreakerIgnoresClientErrors(t *testing.T) {
	up := newFake(t, wireOpenAI)
	for range 5 {
		up.push(fault{kind: fkStatus, status: 400})
	}
	env := newTestSpiller(t, Config{Providers: []ProviderConfig{provCfg("p", wireOpenAI, up.url())}}, Options{})
	for range 5 {
		_, _, _ = env.s.Complete(bg, Call{Decision: remote("m", "p"), Req: chatReq("m", false)})
	}
	if st, _ := env.s.BreakerState("p"); st != BreakerClosed {
		t.Fatalf("breaker %v after client errors, want closed", st)
	}
}
