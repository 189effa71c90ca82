package federation

import (
	"testing"
	"time"
)

func TestSaturated(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 10, 0, time.UTC)
	fresh := now.Add(-time.Second)
	th := Thresholds{MaxWaiting: 10, MaxKVUsage: 0.9, MaxQueueWait: 2, Resume: 0.5, StaleAfter: 3 * time.Second}.withDefaults()
	cases := []struct {
		name string
		was  bool
		sig  Signal
		th   Thresholds
		want bool
	}{
		{"idle", false, Signal{Updated: fresh}, th, false},
		{"waiting at threshold", false, Signal{Waiting: 10, Updated: fresh}, th, true},
		{"waiting below threshold", false, Signal{Waiting: 9, Updated: fresh}, th, false},
		{"kv at threshold", false, Signal{KVUsage: 0.9, Updated: fresh}, th, true},
		{"queue wait over", false, Signal{EstQueueWait: 2.5, Updated: fresh}, th, true},
		{"hysteresis: stays saturated between resume and threshold", true, Signal{Waiting: 7, Updated: fresh}, th, true},
		{"hysteresis: not saturated there when it was not", false, Signal{Waiting: 7, Updated: fresh}, th, false},
		{"hysteresis: resumes below the resume line", true, Signal{Waiting: 4, KVUsage: 0.4, EstQueueWait: 0.9, Updated: fresh}, th, false},
		{"hysteresis: one measure above its resume line keeps it", true, Signal{Waiting: 4, KVUsage: 0.46, Updated: fresh}, th, true},
		{"stale signal is saturated", false, Signal{Updated: now.Add(-4 * time.Second)}, th, true},
		{"never-set signal is saturated", false, Signal{}, th, true},
		{"disabled measure ignored", false, Signal{Waiting: 1000, Updated: fresh},
			Thresholds{MaxWaiting: -1, MaxKVUsage: 0.9, MaxQueueWait: 2, Resume: 0.5, StaleAfter: time.Second}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.th.Saturated(tc.was, tc.sig, now); got != tc.want {
				t.Fatalf("Saturated(%v, %+v) = %v, want %v", tc.was, tc.sig, got, tc.want)
			}
		})
	}
}

// TestHysteresisSequence: a load ramp up and down flips the state once
// each way, not on every request near the threshold.
func TestHysteresisSequence(t *testing.T) {
	th := Thresholds{MaxWaiting: 10, MaxKVUsage: -1, MaxQueueWait: -1, Resume: 0.5}.withDefaults()
	now := time.Now()
	waits := []int{0, 5, 9, 10, 9, 11, 8, 6, 5, 4, 6, 9}
	want := []bool{false, false, false, true, true, true, true, true, true, false, false, false}
	sat := false
	for i, w := range waits {
		sat = th.Saturated(sat, Signal{Waiting: w, Updated: now}, now)
		if sat != want[i] {
			t.Fatalf("step %d (waiting %d): saturated %v, want %v", i, w, sat, want[i])
		}
	}
}
