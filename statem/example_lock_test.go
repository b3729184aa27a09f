package statem_test

import (
	"context"
	"fmt"
	"time"

	"github.com/effusion-bt/effusion/statem"
)

// lock is the code lock of the gen_statem documentation: buttons are
// pressed one at a time; the right code opens the door, which locks again
// after a state time-out. Presses while open are postponed until locked.
type lock struct {
	code    string
	openFor time.Duration
	events  chan<- string // what a real lock would do to its hardware
}

type lockData struct{ pressed string }

func (l *lock) Init(context.Context) (string, lockData, []statem.Action, error) {
	return "locked", lockData{}, nil, nil
}

func (l *lock) HandleEvent(_ context.Context, ev statem.Event, s string, d lockData) statem.Result[string, lockData] {
	switch {
	case ev.Type == statem.Enter && s == "locked":
		l.events <- "locked"
		return statem.Keep[string](lockData{})
	case ev.Type == statem.Enter && s == "open":
		l.events <- "open"
		return statem.KeepAll[string, lockData](statem.SetStateTimeout(l.openFor, "lock"))
	case ev.Type == statem.StateTimeout:
		return statem.Next("locked", d)
	case ev.Type == statem.Cast && s == "open":
		return statem.KeepAll[string, lockData](statem.Postpone())
	case ev.Type == statem.Cast:
		d.pressed += ev.Content.(string)
		if d.pressed == l.code {
			return statem.Next("open", d)
		}
		if len(d.pressed) >= len(l.code) {
			d.pressed = "" // wrong code: start again
		}
		// Forget a half-typed code after a pause: any press cancels this.
		return statem.Keep[string](d, statem.SetEventTimeout(time.Second, "reset"))
	case ev.Type == statem.EventTimeout:
		return statem.Keep[string](lockData{})
	}
	return statem.KeepAll[string, lockData]()
}

// A code lock with state enter calls, a state time-out that locks the door
// again, an event time-out that forgets a half-typed code, and presses
// postponed while the door is open.
func Example_codeLock() {
	events := make(chan string, 16)
	m, err := statem.Start(context.Background(), &lock{code: "123", openFor: 10 * time.Millisecond, events: events}, statem.WithStateEnter())
	if err != nil {
		panic(err)
	}
	fmt.Println(<-events)
	for _, b := range []string{"1", "2", "3", "1", "2", "3"} {
		m.Cast(b) // the second code is typed while the door is open
	}
	for range 4 {
		fmt.Println(<-events)
	}
	m.Stop(context.Background(), nil)
	// Output:
	// locked
	// open
	// locked
	// open
	// locked
}
