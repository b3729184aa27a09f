package statem

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// Request and Wait (OTP send_request / wait_response): several requests
// outstanding at once; Wait with a short ctx leaves the request
// outstanding; Abandon drops a late reply; the end of the machine answers
// what is left.
func TestRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		m := mustStart(t, slowReplier(r), WithLogger(discardLogger()))
		fast, err := m.Request("fast")
		if err != nil {
			t.Fatal(err)
		}
		slow, _ := m.Request("slow")
		time.Sleep(time.Millisecond) // so that the two replies are not simultaneous
		abandoned, _ := m.Request("slow")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		if _, err := slow.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) { // at 11ms
			t.Fatalf("slow with short ctx: %v", err)
		}
		abandoned.Abandon()
		if v, err := fast.Wait(context.Background()); v != "fast" || err != nil {
			t.Fatalf("fast: %v %v", v, err)
		}
		if v, err := slow.Wait(context.Background()); v != "slow" || err != nil { // still outstanding
			t.Fatalf("slow: %v %v", v, err)
		}
		if v, err := slow.Wait(context.Background()); v != "slow" || err != nil { // kept
			t.Fatalf("slow again: %v %v", v, err)
		}
		if _, err := abandoned.Wait(context.Background()); err != ErrAbandoned {
			t.Fatalf("abandoned: %v", err)
		}
		time.Sleep(time.Second)
		r.expect(t, "1s late reply delivered: true", "1.001s late reply delivered: false")

		left, _ := m.Request("slow")
		reason := errors.New("gone")
		m.Stop(context.Background(), reason)
		if _, err := left.Wait(context.Background()); !errors.Is(err, ErrStopped) || !errors.Is(err, reason) {
			t.Fatalf("after the end: %v", err)
		}
		if _, err := m.Request("x"); !errors.Is(err, ErrStopped) {
			t.Fatalf("Request after the end: %v", err)
		}
	})
}
