package federation

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"
)

// With Rand fixed at 0.5 and a 100ms base, the n-th retry waits
// 0.75 × 100ms × 2^(n-1): 75ms, then 150ms.
const firstBackoff, secondBackoff = 75 * time.Millisecond, 150 * time.Millisecond

type faultCase struct {
	name       string
	faults     []fault
	streamOnly bool
	wantCalls  [2]int // primary, secondary
	wantSleeps []time.Duration
	wantServed string // provider of the record; "" with wantErr
	wantErr    error  // errors.Is target; nil for success
	wantBroken bool   // a *StreamError after partial delivery
	wantText   string // for broken streams: what reached the client
}

var faultCases = []faultCase{
	{name: "ok", wantCalls: [2]int{1, 0}, wantServed: "primary"},
	{name: "429 Retry-After honoured", faults: []fault{{kind: fkStatus, status: 429, retryAfter: "1"}},
		wantCalls: [2]int{2, 0}, wantSleeps: []time.Duration{time.Second}, wantServed: "primary"},
	{name: "503 retried with backoff", faults: []fault{{kind: fkStatus, status: 503}},
		wantCalls: [2]int{2, 0}, wantSleeps: []time.Duration{firstBackoff}, wantServed: "primary"},
	{name: "500 until attempts run out then failover",
		faults:    []fault{{kind: fkStatus, status: 500}, {kind: fkStatus, status: 500}, {kind: fkStatus, status: 500}},
		wantCalls: [2]int{3, 1}, wantSleeps: []time.Duration{firstBackoff, secondBackoff}, wantServed: "secondary"},
	{name: "529 overloaded is transient", faults: []fault{{kind: fkStatus, status: 529}},
		wantCalls: [2]int{2, 0}, wantSleeps: []time.Duration{firstBackoff}, wantServed: "primary"},
	{name: "Retry-After beyond the cap fails over at once", faults: []fault{{kind: fkStatus, status: 429, retryAfter: "60"}},
		wantCalls: [2]int{1, 1}, wantServed: "secondary"},
	{name: "400 is the client's: no retry, no failover", faults: []fault{{kind: fkStatus, status: 400}},
		wantCalls: [2]int{1, 0}, wantErr: &UpstreamError{}},
	{name: "401 fails over without retry", faults: []fault{{kind: fkStatus, status: 401}},
		wantCalls: [2]int{1, 1}, wantServed: "secondary"},
	{name: "malformed body retried", faults: []fault{{kind: fkMalformed}},
		wantCalls: [2]int{2, 0}, wantSleeps: []time.Duration{firstBackoff}, wantServed: "primary"},
	{name: "stall before first token times out and retries", faults: []fault{{kind: fkStallFirst}},
		wantCalls: [2]int{2, 0}, wantSleeps: []time.Duration{firstBackoff}, wantServed: "primary"},
	{name: "not SSE at all", streamOnly: true, faults: []fault{{kind: fkGarbageFraming}},
		wantCalls: [2]int{2, 0}, wantSleeps: []time.Duration{firstBackoff}, wantServed: "primary"},
	{name: "error event before first token retried", streamOnly: true, faults: []fault{{kind: fkErrorEvent, after: 0}},
		wantCalls: [2]int{2, 0}, wantSleeps: []time.Duration{firstBackoff}, wantServed: "primary"},
	{name: "break before first token retried", streamOnly: true, faults: []fault{{kind: fkBreakMid, after: 0}},
		wantCalls: [2]int{2, 0}, wantSleeps: []time.Duration{firstBackoff}, wantServed: "primary"},
	{name: "end without terminator before first token retried", streamOnly: true, faults: []fault{{kind: fkNoTerminator, after: 0}},
		wantCalls: [2]int{2, 0}, wantSleeps: []time.Duration{firstBackoff}, wantServed: "primary"},
	{name: "break mid-stream ends with an error event", streamOnly: true, faults: []fault{{kind: fkBreakMid, after: 2}},
		wantCalls: [2]int{1, 0}, wantBroken: true, wantText: "Hello,"},
	{name: "error event mid-stream", streamOnly: true, faults: []fault{{kind: fkErrorEvent, after: 2}},
		wantCalls: [2]int{1, 0}, wantBroken: true, wantText: "Hello,"},
	{name: "stall mid-stream hits the idle timeout", streamOnly: true, faults: []fault{{kind: fkStallMid, after: 2}},
		wantCalls: [2]int{1, 0}, wantBroken: true, wantText: "Hello,", wantErr: ErrIdleTimeout},
	{name: "truncated mid-stream", streamOnly: true, faults: []fault{{kind: fkNoTerminator, after: 3}},
		wantCalls: [2]int{1, 0}, wantBroken: true, wantText: "Hello, world", wantErr: ErrTruncated},
}

func TestFaultMatrix(t *testing.T) {
	for _, w := range []wire{wireOpenAI, wireAnthropic} {
		for _, stream := range []bool{false, true} {
			for _, tc := range faultCases {
				if tc.streamOnly && !stream {
					continue
				}
				t.Run(fmt.Sprintf("%s/stream=%v/%s", w, stream, tc.name), func(t *testing.T) {
					t.Parallel()
					runFaultCase(t, w, stream, tc)
				})
			}
		}
	}
}

func runFaultCase(t *testing.T, w wire, stream bool, tc faultCase) {
	prim, sec := newFake(t, w), newFake(t, wireOpenAI)
	prim.push(tc.faults...)
	env := newTestSpiller(t, Config{Providers: []ProviderConfig{
		provCfg("primary", w, prim.url()), provCfg("secondary", wireOpenAI, sec.url()),
	}}, Options{})
	call := Call{Tenant: "acme", Decision: remote("m", "primary", "secondary"), Req: chatReq("m", stream)}
	var rec Record
	var err error
	var col collector
	if stream {
		rec, err = env.s.Stream(bg, call, col.emit)
	} else {
		var resp *ChatResponse
		resp, rec, err = env.s.Complete(bg, call)
		if err == nil && resp.Choices[0].Message.Content != prim.text() {
			t.Errorf("content %q, want %q", resp.Choices[0].Message.Content, prim.text())
		}
	}
	if got := [2]int{prim.Calls(), sec.Calls()}; got != tc.wantCalls {
		t.Errorf("upstream calls %v, want %v", got, tc.wantCalls)
	}
	if got := env.clock.Sleeps(); !durationsEqual(got, tc.wantSleeps) {
		t.Errorf("backoff sleeps %v, want %v", got, tc.wantSleeps)
	}
	switch {
	case tc.wantBroken:
		checkBroken(t, err, rec, &col, tc)
	case tc.wantErr != nil:
		var ue *UpstreamError
		if !errors.As(err, &ue) || ue.Status != 400 {
			t.Fatalf("err = %v, want the upstream's 400", err)
		}
	default:
		if err != nil {
			t.Fatalf("err = %v", err)
		}
		if rec.Provider != tc.wantServed || rec.Outcome != OutcomeOK {
			t.Errorf("record provider %q outcome %q, want %q ok", rec.Provider, rec.Outcome, tc.wantServed)
		}
		if stream && (col.text() != prim.text() || col.errorChunks() != 0) {
			t.Errorf("client got %q with %d error chunks, want %q exactly once", col.text(), col.errorChunks(), prim.text())
		}
	}
}

func checkBroken(t *testing.T, err error, rec Record, col *collector, tc faultCase) {
	t.Helper()
	var se *StreamError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want *StreamError", err)
	}
	if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
		t.Errorf("err = %v, want it to wrap %v", err, tc.wantErr)
	}
	if col.text() != tc.wantText {
		t.Errorf("client text %q, want %q", col.text(), tc.wantText)
	}
	if col.errorChunks() != 1 || col.last().Error == nil {
		t.Errorf("want exactly one error chunk, last: %+v", col.last())
	}
	if rec.Outcome != OutcomeBroken || rec.CompletionTokens == 0 {
		t.Errorf("record %+v, want outcome broken with the delivered tokens billed", rec)
	}
}

// TestTransportFaults covers failures below HTTP: nothing listening, a
// dial that never completes, a peer that accepts and never answers.
// Each fails over to the healthy secondary before any byte is sent.
func TestTransportFaults(t *testing.T) {
	const void = "10.255.255.1:9"
	hang := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == void {
			<-ctx.Done() // a SYN into the void
			return nil, ctx.Err()
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	cases := []transportCase{
		{"connection refused", closedPort(t), nil, nil},
		{"connect timeout", void, hang, ErrConnectTimeout},
		{"accepted, never answered", silentListener(t), nil, ErrFirstTokenTimeout},
	}
	for _, tc := range cases {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", tc.name, stream), func(t *testing.T) {
				t.Parallel()
				runTransportFault(t, tc, stream)
			})
		}
	}
}

type transportCase struct {
	name    string
	addr    string
	dial    DialFunc
	wantErr error
}

func runTransportFault(t *testing.T, tc transportCase, stream bool) {
	sec := newFake(t, wireOpenAI)
	bad := provCfg("primary", wireOpenAI, "http://"+tc.addr+"/v1")
	bad.Timeouts.Connect = 100 * time.Millisecond
	cfg := Config{Providers: []ProviderConfig{bad, provCfg("secondary", wireOpenAI, sec.url())},
		Retry: RetryConfig{MaxAttempts: 1}}
	env := newTestSpiller(t, cfg, Options{Dial: tc.dial})
	req := chatReq("m", stream)
	p := env.s.provs["primary"].p
	var err error
	if stream {
		_, err = p.ChatStream(bg, req)
	} else {
		_, err = p.Chat(bg, req)
	}
	want := tc.wantErr
	if want == ErrFirstTokenTimeout && !stream {
		want = ErrRequestTimeout
	}
	if err == nil || (want != nil && !errors.Is(err, want)) {
		t.Fatalf("direct call: err = %v, want %v", err, want)
	}
	if classify(err) != classTransient {
		t.Errorf("%v classified %v, want transient", err, classify(err))
	}
	call := Call{Decision: remote("m", "primary", "secondary"), Req: req}
	var col collector
	var rec Record
	if stream {
		rec, err = env.s.Stream(bg, call, col.emit)
	} else {
		_, rec, err = env.s.Complete(bg, call)
	}
	if err != nil || rec.Provider != "secondary" || sec.Calls() != 1 {
		t.Fatalf("err %v, served by %q, secondary calls %d; want failover", err, rec.Provider, sec.Calls())
	}
}

// TestClientGone: an emit error cancels the upstream and is not a
// provider failure.
func TestClientGone(t *testing.T) {
	up := newFake(t, wireOpenAI)
	env := newTestSpiller(t, Config{Providers: []ProviderConfig{provCfg("p", wireOpenAI, up.url())}}, Options{})
	col := collector{failAt: 2}
	rec, err := env.s.Stream(bg, Call{Decision: remote("m", "p"), Req: chatReq("m", true)}, col.emit)
	if !errors.Is(err, ErrClientGone) || rec.Outcome != OutcomeCanceled {
		t.Fatalf("err %v outcome %q, want ErrClientGone/canceled", err, rec.Outcome)
	}
	if up.Calls() != 1 || col.errorChunks() != 0 {
		t.Errorf("calls %d error chunks %d, want 1 and 0", up.Calls(), col.errorChunks())
	}
	st, _ := env.s.BreakerState("p")
	if st != BreakerClosed {
		t.Errorf("breaker %v after a client disconnect, want closed", st)
	}
}

// TestCallerCancel: a caller whose context ends stops the walk at once.
func TestCallerCancel(t *testing.T) {
	prim, sec := newFake(t, wireOpenAI), newFake(t, wireOpenAI)
	prim.push(fault{kind: fkStallFirst})
	env := newTestSpiller(t, Config{Providers: []ProviderConfig{
		provCfg("primary", wireOpenAI, prim.url()), provCfg("secondary", wireOpenAI, sec.url())}}, Options{})
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	_, rec, err := env.s.Complete(ctx, Call{Decision: remote("m", "primary", "secondary"), Req: chatReq("m", false)})
	if !errors.Is(err, context.DeadlineExceeded) || sec.Calls() != 0 {
		t.Fatalf("err %v, secondary calls %d; want the caller's deadline and no failover", err, sec.Calls())
	}
	if rec.Outcome == OutcomeOK {
		t.Errorf("record outcome %q", rec.Outcome)
	}
}
